"""The base class of every job task: whatever goes wrong, the job record ends `failed` with an
error a client can act on, and the worker process lives on; a message whose job has already
ended is not run again."""

from __future__ import annotations

import logging

from celery import Task
from celery.exceptions import TimeLimitExceeded

from brigade import jobs
from brigade.settings import get_settings

log = logging.getLogger(__name__)


def delivery_id(request, fallback: str) -> str:
    """What counts as one message across its redeliveries: the task id and its retry number (a
    retry on purpose is a new message, not a redelivery)."""
    return f"{request.id or fallback}:{request.retries or 0}"


def poison_error(runs: int) -> dict:
    return {"type": "poison", "detail": f"the input ended its worker {runs} times (out of memory, or a decoder "
            f"crash); not tried again (MAX_TASK_ATTEMPTS)"}


def public_error(exc: BaseException) -> str:
    """What a client may read about a failure: the input's fault in plain words, never a server
    path, a stack or ffmpeg's stderr (the worker's log has those, under the job id)."""
    from brigade.storage import StorageError
    from media.frames import DecodeError
    from media.probe import ProbeError

    if isinstance(exc, DecodeError):
        return exc.reason
    if isinstance(exc, ProbeError):
        return exc.detail
    if isinstance(exc, StorageError):
        return str(exc)
    if isinstance(exc, TimeLimitExceeded):
        return "the task ran past its hard time limit (TASK_TIME_LIMIT_S) and was stopped"
    return f"{exc.__class__.__name__} (an internal error; the worker's log has the details)"


class JobTask(Task):
    abstract = True

    def __call__(self, *args, **kwargs):
        job_id = kwargs.get("job_id")
        if job_id:
            ended, attempt = jobs.begin_attempt(job_id, delivery_id(self.request, job_id))
            if ended:
                # The watchdog failed it while it waited in the queue, or it ended and its worker died
                # before acking: running it now would overwrite an answer the client already has.
                log.warning("%s: job %s has already ended; message dropped", self.name, job_id)
                return {"job_id": job_id, "skipped": "the job had already ended"}
            limit = get_settings().MAX_TASK_ATTEMPTS
            if attempt > limit:
                log.error("%s: job %s: started %d times, each ending its worker; failed as poison", self.name, job_id, attempt - 1)
                jobs.fail(job_id, poison_error(attempt - 1))
                return {"job_id": job_id, "skipped": "poison"}
        return super().__call__(*args, **kwargs)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = (kwargs or {}).get("job_id")
        if job_id:
            log.error("%s failed job %s: %s: %s", self.name, job_id, exc.__class__.__name__, exc)
            jobs.fail(job_id, {"type": "task-error", "detail": public_error(exc), "task": self.name})
