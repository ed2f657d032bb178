"""Accepted jobs whose message the broker lost, sent again.

kombu's Redis transport takes a message with BRPOP and records it as unacked in a second step, so
a worker killed, or a primary lost, between the two loses the message (celery#7950, kombu#305);
so does a failover to a replica that the message had not reached yet. The job's record survives
(it was confirmed on a replica before the 202: app/dispatch.py), and it keeps the message that
started it (`jobs.create_job(message=...)`).

Every RECONCILE_INTERVAL_S one worker (a Redis lock picks it, worker/chores.py) looks at the jobs
still `queued`: one whose message is in no queue, not unacked and not held by a worker, in two
passes in a row, is sent again with the same task id. Two passes, because a message moving
between two of those places can be missed by one look. Sending a job twice is harmless: its
record is final once it has ended (jobs.update_job), and a message of an ended job is dropped
(tasks.base.admission). Sharded jobs are covered up to their planning message; a lost segment
message is left to the watchdog's deadline (SHARDED_JOB_TIMEOUT_S).
"""

from __future__ import annotations

import logging

from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads as kombu_loads

from brigade import deadlines, jobs
from brigade.broker_queues import is_redis_url, redis_layout, redis_queue_keys
from brigade.redis_client import key, redis_client
from brigade.settings import get_settings
from worker import queues
from worker.tracking import running_key

log = logging.getLogger(__name__)

#: A pass reads every open job's status and every waiting message (there is no index of messages
#: by task id). Past this many of either it waits for
#: a smaller backlog: a busy broker's messages are being taken anyway, and a lost one is found once
#: the backlog has drained (a pass over 20,000 messages reads about 20 MB).
SCAN_LIMIT = 20_000


def suspects_key() -> str:
    return key("reconcile", "suspects")


def messages_in_broker(app) -> set[str] | None:
    """Task ids of every message that is waiting in a queue (any priority) or taken but unacked;
    None when there are more than SCAN_LIMIT of them (a pass does not read a huge backlog)."""
    steps, _ = redis_layout(app)  # kombu's own client (below) adds any global key prefix itself
    lists = [name for queue in queues.declared(get_settings().NUM_SHARDS) for name in redis_queue_keys(queue, steps)]
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        client = channel.client
        pipe = client.pipeline(transaction=False)
        for name in lists:
            pipe.llen(name)
        pipe.hlen(channel.unacked_key)
        if sum(pipe.execute()) > SCAN_LIMIT:
            return None
        pipe = client.pipeline(transaction=False)
        for name in lists:
            pipe.lrange(name, 0, -1)
        waiting = [raw for items in pipe.execute() for raw in items]
        unacked = [kombu_loads(bytes_to_str(raw))[0] for _, raw in client.hscan_iter(channel.unacked_key)]
    return {message["headers"]["id"] for message in [*map(kombu_loads, map(bytes_to_str, waiting)), *unacked]}


def reconcile(app) -> list[str]:
    """One pass; returns the jobs whose message was sent again."""
    if not is_redis_url(app.conf.broker_url):
        return []  # AMQP keeps a message until it is acked: nothing is lost between two steps
    client = redis_client()
    candidates = deadlines.queued_jobs() if deadlines.open_job_count() <= SCAN_LIMIT else None
    present = messages_in_broker(app) if candidates else set()
    if candidates is None or present is None:
        log.info("reconcile: over %d open jobs or messages; looked at again once there are fewer", SCAN_LIMIT)
        return []
    missing = set(candidates) - present - set(client.hkeys(running_key()))
    resend = missing & set(client.smembers(suspects_key()))
    pipe = client.pipeline()
    pipe.delete(suspects_key())
    if missing - resend:
        pipe.sadd(suspects_key(), *(missing - resend))
    pipe.execute()
    sent = []
    for job_id in sorted(resend):
        record = jobs.get_job(job_id)
        message = (record or {}).get("message")
        if not message or record["status"] != jobs.QUEUED:
            continue
        app.send_task(message["task"], kwargs=message["kwargs"], task_id=job_id, priority=message.get("priority"),
                      ignore_result=True)
        jobs.update_job(job_id, note="its message was lost by the broker (a failover, or a worker lost while taking "
                                     "it); sent again")
        log.warning("job %s: message lost by the broker; sent again", job_id)
        sent.append(job_id)
    return sent


def due(owner: str) -> bool:
    """Whether this process runs the pass now: at most one per RECONCILE_INTERVAL_S in the deployment."""
    interval = get_settings().RECONCILE_INTERVAL_S
    return interval > 0 and bool(redis_client().set(key("reconcile", "lock"), owner, nx=True, px=int(interval * 1000)))
