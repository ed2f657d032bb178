"""Send work to the workers by task name: the API never imports the task modules (or torch).

The Celery app used is the one the Flask app carries (`app.context.celery()`), so a test app can
record or refuse what is sent without a broker."""

from __future__ import annotations

from kombu.exceptions import OperationalError

from app import context
from app.errors import ApiError
from brigade import jobs


def enqueue(job_id: str, task_name: str, *, kwargs: dict, priority: int | None = None):
    """Publish the task (task id = job id). A job counts as accepted only once this returns.

    `ignore_result`: the job record is the result. A Celery result as well would cost the API a
    subscribe and an unsubscribe on the task's result channel per request, and the worker a
    STARTED and a SUCCESS write per task (the first before the task body runs), which nothing
    reads. (A sharded job's chord still keeps its segments' results: the worker builds it.)"""
    try:
        return context.celery().send_task(task_name, kwargs=kwargs, task_id=job_id, priority=priority,
                                          ignore_result=True)
    except OperationalError as exc:
        jobs.fail(job_id, {"type": "enqueue-failed", "detail": str(exc)}, notify=False)  # the client gets the 503
        raise ApiError(503, "broker-unavailable", "the job could not be queued: the broker does not answer; retry later") from exc


def broker_answers() -> bool:
    try:
        with context.celery().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
        return True
    except Exception:
        return False
