"""Job records: `<prefix>:job:<id>` hashes in Redis that the API renders and the tasks update.

A record holds kind, mode (single|sharded), status, progress, result, error, timings and the model
that served it. Terminal updates are also published on `<prefix>:job-events:<id>` so a client
waiting with `?wait=` wakes at once instead of polling. A job created with a `callback_url` has a
place in the webhook outbox from the start, which its terminal update makes due in the same round
trip (brigade/webhooks.py delivers it), so no terminal status can be written without its webhook.
"""

from __future__ import annotations

import json
import time
import uuid
from functools import lru_cache
from typing import Any

from brigade.redis_client import key, redis_client
from brigade.settings import get_settings

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
TERMINAL = frozenset({SUCCEEDED, FAILED})
_JSON_FIELDS = ("progress", "result", "error", "timings", "input", "model", "plan", "process", "webhook", "message")


def _job_key(job_id: str) -> str:
    return key("job", job_id)


def _events_channel(job_id: str) -> str:
    return key("job-events", job_id)


def new_job_id() -> str:
    return uuid.uuid4().hex


def create_job(kind: str, mode: str, *, job_id: str | None = None, input: dict | None = None,
               deadline_s: float | None = None, callback_url: str | None = None, callback_key: str = "",
               owner: str | None = None, message: dict | None = None) -> str:
    """A queued job with a deadline (`deadline_s`, default JOB_TIMEOUT_S) after which the watchdog
    fails it if it has not ended, so that no client waits forever on a message nobody runs.
    `callback_url` (validated by the caller): POSTed the job's body, signed with the secret of
    `callback_key` (the caller's key identity), when the job ends. `message`: the task message that
    starts the job ({"task", "kwargs", "priority"}), kept so that a message the broker lost can be
    sent again (tasks/reconcile.py)."""
    job_id = job_id or new_job_id()
    now = time.time()
    record = {
        "id": job_id,
        "kind": kind,
        "mode": mode,
        "status": QUEUED,
        "created_at": now,
        "updated_at": now,
        "progress": {"done": 0, "total": 1},
        "input": input or {},
    }
    if owner:  # who may read it (the submitting key's identity); none: whoever holds the id
        record["owner"] = owner
    if message:
        record["message"] = message
    pipe = redis_client().pipeline(transaction=False)
    if callback_url:
        record["input"] = {**record["input"], "callback_url": callback_url}
        record["webhook"] = {"status": "pending", "attempts": 0, "key": callback_key}
        pipe.zadd(webhook_outbox_key(), {job_id: "+inf"})  # not due until the job ends (update_job)
    _write(job_id, record, pipe)
    pipe.zadd(_deadlines_key(), {job_id: now + (deadline_s or get_settings().JOB_TIMEOUT_S)})
    pipe.execute()
    return job_id


def _encoded(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(v) if k in _JSON_FIELDS else v for k, v in fields.items() if v is not None}


def _write(job_id: str, fields: dict[str, Any], pipe=None) -> None:
    """Queue the write on `pipe` (the caller executes it), or write at once in one round trip."""
    own = pipe is None
    pipe = redis_client().pipeline(transaction=False) if own else pipe
    pipe.hset(_job_key(job_id), mapping=_encoded(fields))
    pipe.expire(_job_key(job_id), int(get_settings().RESULT_EXPIRES_S))
    if own:
        pipe.execute()


def get_job(job_id: str) -> dict | None:
    pipe = redis_client().pipeline(transaction=False)  # one round trip, sharded or not
    pipe.hgetall(_job_key(job_id))
    pipe.scard(_segments_key(job_id))
    raw, segments_done = pipe.execute()
    if not raw:
        return None
    record: dict[str, Any] = {}
    for name, value in raw.items():
        if name in _JSON_FIELDS:
            record[name] = json.loads(value)
        elif name in {"created_at", "updated_at", "started_at", "finished_at"}:
            record[name] = float(value)
        else:
            record[name] = value
    if "segments_total" in record:  # sharded: progress is the set of segments done, each once
        record["progress"] = {"done": segments_done, "total": int(record["segments_total"]), "unit": "segments"}
    if record.get("status") == SUCCEEDED and "progress" in record:  # done is done, whatever was last reported
        record["progress"] = {**record["progress"], "done": record["progress"].get("total", 1)}
    return record


def queue_run_time(pipe, job_id: str) -> None:
    """Queue on `pipe` a read of when the job's task started and ended (decoded by run_time()):
    the events autoscaler measures its tasks' service time from them in its tick's round trip."""
    pipe.hmget(_job_key(job_id), "started_at", "finished_at")


def run_time(raw: list) -> float | None:
    """Seconds from the task's start to the job's end, or None (not started, not ended, expired)."""
    started, finished = raw
    return float(finished) - float(started) if started is not None and finished is not None else None


#: Every update of a record, in one atomic step: a record whose status is terminal is final, so a
#: late writer (a worker cut off past its heartbeat TTL whose job ran again elsewhere, a duplicate
#: message) changes nothing: no second answer, no answer overwritten, no status flipped back.
#: A terminal update also clears the deadline, counts the status, makes the webhook due (or drops
#: it) and publishes to `?wait=` waiters last, so its status is never written without them.
#: KEYS: record, deadlines, stats, outbox. ARGV: job id, status or "", notify (1|0), channel,
#: expiry (s), updated_at, then field, value, ...
_UPDATE = f"""
local status = redis.call('HGET', KEYS[1], 'status')
if status == '{SUCCEEDED}' or status == '{FAILED}' then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('EXPIRE', KEYS[1], ARGV[5])
if ARGV[2] == '{SUCCEEDED}' or ARGV[2] == '{FAILED}' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
  if ARGV[3] == '1' then redis.call('ZADD', KEYS[4], 'XX', ARGV[6], ARGV[1]) else redis.call('ZREM', KEYS[4], ARGV[1]) end
  redis.call('PUBLISH', ARGV[4], ARGV[2])
end
return 1
"""


@lru_cache(maxsize=4)
def _update_script(client):
    return client.register_script(_UPDATE)


def update_job(job_id: str, *, notify: bool = True, **fields: Any) -> bool:
    """Set fields of a record that has not ended (one round trip, on the hot path of every job);
    False, and nothing written, when it had. When the status becomes terminal, publishes an event
    and makes the job's webhook due, if it has one (`notify=False`: drops it instead)."""
    fields["updated_at"] = time.time()
    status = fields.get("status", "")
    if status in TERMINAL:
        fields.setdefault("finished_at", fields["updated_at"])
    pairs = [item for name, value in _encoded(fields).items() for item in (name, value)]
    applied = _update_script(redis_client())(
        keys=[_job_key(job_id), _deadlines_key(), key("stats", "jobs"), webhook_outbox_key()],  # stats: the API's /metrics
        args=[job_id, status, int(notify), _events_channel(job_id), int(get_settings().RESULT_EXPIRES_S),
              fields["updated_at"], *pairs])
    return bool(applied)


def mark_running(job_id: str, worker: str, **fields: Any) -> bool:
    return update_job(job_id, status=RUNNING, worker=worker, started_at=time.time(), **fields)


def set_progress(job_id: str, done: float, total: float, unit: str = "") -> bool:
    return update_job(job_id, progress={"done": done, "total": total, "unit": unit})


def succeed(job_id: str, result: dict, timings: dict | None = None, model: dict | None = None, **fields: Any) -> bool:
    """False: the job had already ended (this answer came late and is dropped)."""
    return update_job(job_id, status=SUCCEEDED, result=result, timings=timings, model=model, error="", **fields)


def fail(job_id: str, error: dict, *, notify: bool = True) -> bool:
    """`notify=False`: no webhook (the client was told the job was never accepted)."""
    return update_job(job_id, status=FAILED, error=error, notify=notify)


def confirm_replicated(job_id: str, replicas: int, timeout_ms: int) -> int:
    """Stamp the record `accepted_at`, then WAIT until `replicas` replicas hold every write made
    before the stamp: the record and the job's message, although the message went out on the
    broker's own connection, because a replica applies the primary's writes in their order.
    Returns how many replicas confirmed within `timeout_ms`."""
    pipe = redis_client().pipeline(transaction=False)
    pipe.hset(_job_key(job_id), "accepted_at", time.time())
    pipe.wait(replicas, timeout_ms)
    return int(pipe.execute()[-1])


def wait_for_terminal(job_id: str, timeout_s: float, *, just_created: bool = False) -> dict | None:
    """The record once it is terminal or `timeout_s` has passed, whichever comes first.
    `just_created` skips the first read, which cannot find a job that was enqueued a moment ago done."""
    if timeout_s <= 0:  # nothing to wait for: no subscription
        return get_job(job_id)
    record = None if just_created else get_job(job_id)
    if not just_created and (record is None or record["status"] in TERMINAL):
        return record
    pubsub = redis_client().pubsub()
    pubsub.subscribe(_events_channel(job_id))
    try:
        deadline = time.monotonic() + timeout_s
        record = get_job(job_id)  # after subscribing: the job may have finished in between
        while record is not None and record["status"] not in TERMINAL:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            message = pubsub.get_message(timeout=min(remaining, 1.0))
            if message is None or message["type"] == "message":  # an event, or a quiet second: look again
                record = get_job(job_id)
            # else the confirmation of our own subscription: nothing has happened since the read
        return record
    finally:
        pubsub.close()


# --- sharded jobs: segments done, counted once each --------------------------------------------


def _segments_key(job_id: str) -> str:
    return key("job", job_id, "segments-done")


def mark_segment_done(job_id: str, segment_id: int) -> int:
    """Record segment `segment_id` as done (idempotent: a redelivered segment counts once)."""
    client = redis_client()
    pipe = client.pipeline()
    pipe.sadd(_segments_key(job_id), segment_id)
    pipe.expire(_segments_key(job_id), int(get_settings().RESULT_EXPIRES_S))
    pipe.scard(_segments_key(job_id))
    return pipe.execute()[-1]



# --- deadlines: the watchdog fails jobs that outlive them ------------------------------------------
# Every job gets one at creation (JOB_TIMEOUT_S); planning a sharded job resets it to
# SHARDED_JOB_TIMEOUT_S; a terminal update removes it (update_job).


def _deadlines_key() -> str:
    return key("deadlines")


def set_deadline(job_id: str, seconds: float) -> None:
    redis_client().zadd(_deadlines_key(), {job_id: time.time() + seconds})


def clear_deadline(job_id: str) -> None:
    redis_client().zrem(_deadlines_key(), job_id)


def expired_deadlines(now: float | None = None) -> list[str]:
    return redis_client().zrangebyscore(_deadlines_key(), 0, now or time.time())


def open_job_count() -> int:
    """Jobs that have not ended: each has a deadline until its terminal update."""
    return redis_client().zcard(_deadlines_key())


def queued_jobs() -> list[str]:
    """Jobs whose status is `queued` (looked up among those with a deadline: every open job)."""
    ids = redis_client().zrange(_deadlines_key(), 0, -1)
    pipe = redis_client().pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(_job_key(job_id), "status")
    return [job_id for job_id, status in zip(ids, pipe.execute()) if status == QUEUED]


def fail_overdue_jobs(now: float | None = None) -> list[str]:
    """The watchdog: a job past its deadline (a message nobody runs, a chord whose callback can no
    longer run) is failed with what is known, so no client waits forever. Returns the failed ids."""
    failed = []
    for job_id in expired_deadlines(now):
        record = get_job(job_id)
        if record and record["status"] not in TERMINAL:
            progress = record.get("progress") or {}
            fail(job_id, {"type": "timed-out", "detail": f"job did not finish before its deadline (still "
                          f"{record['status']}; {progress.get('done', 0)}/{progress.get('total', '?')} "
                          f"{progress.get('unit', '')} done)"})  # the terminal update clears the deadline
            failed.append(job_id)
        else:
            clear_deadline(job_id)
    return failed


def is_terminal(job_id: str) -> bool:
    return redis_client().hget(_job_key(job_id), "status") in TERMINAL


def begin_attempt(job_id: str, task_id: str) -> tuple[bool, int]:
    """Before a task of `job_id` runs: (has the job already ended, how many times this message has
    now been started). A message whose every run kills its worker (an OOM, a decoder crash) comes
    back each time (task_reject_on_worker_lost, or the reaper): the count lets the task refuse it
    after MAX_TASK_ATTEMPTS instead of killing workers forever. One round trip."""
    attempts_key = key("attempts", task_id)
    pipe = redis_client().pipeline(transaction=False)
    pipe.hget(_job_key(job_id), "status")
    pipe.incr(attempts_key)
    pipe.expire(attempts_key, int(get_settings().RESULT_EXPIRES_S))
    status, attempts, _ = pipe.execute()
    return status in TERMINAL, int(attempts)


# --- the webhook outbox: jobs whose webhook is due (score: when), drained by a worker chore -----------


def webhook_outbox_key() -> str:
    return key("webhook-outbox")


def set_webhook_state(job_id: str, state: dict) -> None:
    """The delivery state of the job's webhook; `updated_at` stays the job's own (the payload has it)."""
    _write(job_id, {"webhook": state})
