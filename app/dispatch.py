"""Send work to the workers by task name: the API never imports the task modules (or torch).

The Celery app used is the one the Flask app carries (`app.context.celery()`), so a test app can
record or refuse what is sent without a broker."""

from __future__ import annotations

import logging
from functools import cache
from time import monotonic

from kombu.exceptions import OperationalError

from app import context
from app.errors import ApiError
from brigade import arrivals, jobs
from worker import work

log = logging.getLogger(__name__)
_warned = {"at": -1e9}


def submit(kind: str, mode: str, task_name: str, kwargs: dict, *, job_id: str, priority: int | None = None,
           **record) -> str:
    """Create the job `job_id` (its record keeps the message, for worker/reconcile.py), send its
    message and confirm it (`enqueue`); `record`: what else `jobs.create_job` takes."""
    message = {"task": task_name, "kwargs": kwargs, "priority": priority}
    jobs.create_job(kind, mode, job_id=job_id, message=message, **record)
    enqueue(job_id, task_name, kwargs=kwargs, priority=priority)
    record_arrival(task_name)
    return job_id


@cache
def queue_of(task_name: str) -> str:
    """The queue that carries `task_name` (the table of work)."""
    return work.routes()[task_name]["queue"]


def record_arrival(task_name: str) -> None:
    """Count the accepted job on its queue's arrival history (brigade/arrivals.py), which the
    predictive autoscaler forecasts from. The job is accepted already: a Redis fault here costs a
    count (logged at most every 30 s), never the request."""
    try:
        arrivals.record(queue_of(task_name))
    except Exception as exc:
        if monotonic() - _warned["at"] > 30:
            _warned["at"] = monotonic()
            log.warning("cannot record an arrival on %r: %s", task_name, exc)


def enqueue(job_id: str, task_name: str, *, kwargs: dict, priority: int | None = None):
    """Publish the task (task id = job id). A job counts as accepted only once this returns.

    `ignore_result`: the job record is the result. A Celery result as well would cost the API a
    subscribe and an unsubscribe on the task's result channel per request, and the worker a
    STARTED and a SUCCESS write per task (the first before the task body runs), which nothing
    reads. (A sharded job's chord still keeps its segments' results: the worker builds it.)"""
    try:
        sent = context.celery().send_task(task_name, kwargs=kwargs, task_id=job_id, priority=priority,
                                          ignore_result=True)
    except OperationalError as exc:
        jobs.fail(job_id, {"type": "enqueue-failed", "detail": str(exc)}, notify=False)  # the client gets the 503
        raise ApiError(503, "broker-unavailable", "the job could not be queued: the broker does not answer; retry later") from exc
    confirm_replicated(job_id)
    return sent


def confirm_replicated(job_id: str) -> None:
    """With REDIS_MIN_REPLICAS_ACK: accepted means on that many replicas too (Redis replicates
    asynchronously, so a primary lost right after a 202 would take the job with it). Short of it,
    the job is withdrawn (failed without a webhook, so its message is dropped if it ever runs)
    and the client gets a 503 to retry on: an acknowledged job is one a failover keeps."""
    s = context.settings()
    if s.REDIS_MIN_REPLICAS_ACK <= 0:
        return
    confirmed = jobs.confirm_replicated(job_id, s.REDIS_MIN_REPLICAS_ACK, s.REDIS_ACK_TIMEOUT_MS)
    if confirmed < s.REDIS_MIN_REPLICAS_ACK:
        jobs.fail(job_id, {"type": "not-replicated", "detail": f"{confirmed} of {s.REDIS_MIN_REPLICAS_ACK} replicas "
                           "confirmed the job; it was not accepted"}, notify=False)
        raise ApiError(503, "store-not-replicated", f"the job could not be stored on {s.REDIS_MIN_REPLICAS_ACK} Redis "
                       f"replica(s) within {s.REDIS_ACK_TIMEOUT_MS} ms (a failover may be under way); nothing was "
                       "accepted, retry later")


def broker_answers() -> bool:
    try:
        with context.celery().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
        return True
    except Exception:
        return False
