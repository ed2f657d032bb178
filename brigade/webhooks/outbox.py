"""The webhook outbox: a sorted set of the jobs whose webhook is due, scored by when.

A job created with a `callback_url` is reserved a place (score +inf: not due) in the same round trip
as its record (`brigade.jobs.create_job`); its terminal update makes it due, or drops it, in the
same atomic step as the status (`brigade.jobs.update_job`), so no terminal status is written without
its webhook. A worker chore drains it (`drain_outbox`), sending a delivery task per due job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from brigade import job_keys
from brigade.redis_client import redis_client

log = logging.getLogger(__name__)


def reserve(pipe, job_id: str) -> None:
    """Queue on `pipe` the job's place in the outbox, not due until the job ends."""
    pipe.zadd(job_keys.webhook_outbox(), {job_id: "+inf"})


def drain_outbox(send: Callable[[str], object], now: float | None = None, limit: int = 200) -> list[str]:
    """Send a delivery task (`send(job_id)`) for each job whose webhook is due, then take it out of
    the outbox: a crash in between sends it twice, never not at all. Stops at the first failed send
    (the broker is away: the rest stay for the next round). The ids sent."""
    client = redis_client()
    due = client.zrangebyscore(job_keys.webhook_outbox(), "-inf", time.time() if now is None else now, start=0, num=limit)
    sent = []
    for job_id in due:
        try:
            send(job_id)
        except Exception:
            log.warning("webhook outbox: could not send the delivery of job %s; next round", job_id, exc_info=True)
            break
        client.zrem(job_keys.webhook_outbox(), job_id)
        sent.append(job_id)
    return sent
