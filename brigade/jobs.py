"""Job records: `<prefix>:job:<id>` hashes in Redis that the API renders and the tasks update.

A record holds kind, mode (single|sharded), status, progress, result, error, timings and the model
that served it. Terminal updates are also published on `<prefix>:job-events:<id>` so a client
waiting with `?wait=` wakes at once instead of polling. A job created with a `callback_url` has a
place in the webhook outbox from the start, which its terminal update makes due in the same round
trip (brigade/webhooks/delivery.py delivers it), so no terminal status can be written without its webhook.
Beside the records: their deadlines (`brigade.deadlines`, the watchdog), the starts of each message
(`brigade.attempts`), the outbox (`brigade.webhooks.outbox`); their keys, `brigade.job_keys`.
"""

from __future__ import annotations

import json
import time
import uuid
from functools import lru_cache
from typing import Any

from brigade import job_keys
from brigade.redis_client import redis_client
from brigade.settings import get_settings
from brigade.webhooks import outbox

QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
TERMINAL = frozenset({SUCCEEDED, FAILED})
_JSON_FIELDS = ("progress", "result", "error", "timings", "input", "model", "plan", "process", "webhook", "message")


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
    sent again (worker/reconcile.py)."""
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
        outbox.reserve(pipe, job_id)  # not due until the job ends (update_job)
    write_fields(job_id, record, pipe)
    pipe.zadd(job_keys.deadlines(), {job_id: now + (deadline_s or get_settings().JOB_TIMEOUT_S)})
    pipe.execute()
    return job_id


def _encoded(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(v) if k in _JSON_FIELDS else v for k, v in fields.items() if v is not None}


def write_fields(job_id: str, fields: dict[str, Any], pipe=None) -> None:
    """Queue the write on `pipe` (the caller executes it), or write at once in one round trip."""
    own = pipe is None
    pipe = redis_client().pipeline(transaction=False) if own else pipe
    pipe.hset(job_keys.record(job_id), mapping=_encoded(fields))
    pipe.expire(job_keys.record(job_id), int(get_settings().RESULT_EXPIRES_S))
    if own:
        pipe.execute()


def get_job(job_id: str) -> dict | None:
    pipe = redis_client().pipeline(transaction=False)  # one round trip, sharded or not
    pipe.hgetall(job_keys.record(job_id))
    pipe.scard(job_keys.segments_done(job_id))
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
    pipe.hmget(job_keys.record(job_id), "started_at", "finished_at")


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
        keys=[job_keys.record(job_id), job_keys.deadlines(), job_keys.job_stats(), job_keys.webhook_outbox()],
        args=[job_id, status, int(notify), job_keys.events_channel(job_id), int(get_settings().RESULT_EXPIRES_S),
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
    pipe.hset(job_keys.record(job_id), "accepted_at", time.time())
    pipe.wait(replicas, timeout_ms)
    return int(pipe.execute()[-1])


def subscribe_until_terminal(job_id: str, timeout_s: float, *, just_created: bool = False) -> dict | None:
    """The record once it is terminal or `timeout_s` has passed, whichever comes first: blocks this
    thread on the job's events channel (pub/sub, re-reading the record on each event and each quiet
    second). Unbounded: any number of callers may wait at once (`app.waits` bounds the API's).
    `just_created` skips the first read, which cannot find a job that was enqueued a moment ago done."""
    if timeout_s <= 0:  # nothing to wait for: no subscription
        return get_job(job_id)
    record = None if just_created else get_job(job_id)
    if not just_created and (record is None or record["status"] in TERMINAL):
        return record
    pubsub = redis_client().pubsub()
    pubsub.subscribe(job_keys.events_channel(job_id))
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


def mark_segment_done(job_id: str, segment_id: int) -> int:
    """Record segment `segment_id` as done (idempotent: a redelivered segment counts once)."""
    client = redis_client()
    pipe = client.pipeline()
    pipe.sadd(job_keys.segments_done(job_id), segment_id)
    pipe.expire(job_keys.segments_done(job_id), int(get_settings().RESULT_EXPIRES_S))
    pipe.scard(job_keys.segments_done(job_id))
    return pipe.execute()[-1]


def is_terminal(job_id: str) -> bool:
    return redis_client().hget(job_keys.record(job_id), "status") in TERMINAL
