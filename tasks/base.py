"""The base class of every job task: whatever goes wrong, the job record ends `failed` with an
error a client can act on, and the worker process lives on; a message whose job has already
ended is not run again."""

from __future__ import annotations

import logging

from celery import Task
from celery.exceptions import TimeLimitExceeded

from brigade import attempts, jobs
from brigade.settings import get_settings

log = logging.getLogger(__name__)


def delivery_id(request, fallback: str) -> str:
    """What counts as one message across its redeliveries: the task id and its retry number (a
    retry on purpose is a new message, not a redelivery)."""
    return f"{request.id or fallback}:{request.retries or 0}"


def poison_error(runs: int) -> dict:
    return {"type": "poison", "detail": f"the input ended its worker {runs} times (out of memory, or a decoder "
            f"crash); not tried again (MAX_TASK_ATTEMPTS)"}


def admission(job_id: str, request, fallback: str) -> dict | None:
    """Before a job's message runs (one `attempts.begin_attempt` round trip): None to run it, else why
    not, as a job error: `ended` (the job has ended: drop it) or `poison` (started more than
    MAX_TASK_ATTEMPTS times, each ending its worker)."""
    ended, attempt = attempts.begin_attempt(job_id, delivery_id(request, fallback))
    if ended:
        return {"type": "ended", "detail": "the job had already ended"}
    if attempt > get_settings().MAX_TASK_ATTEMPTS:
        return poison_error(attempt - 1)
    return None


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
            refused = admission(job_id, self.request, job_id)
            if refused is not None:
                log.warning("%s: job %s: message dropped: %s", self.name, job_id, refused["detail"])
                if refused["type"] == "poison":
                    jobs.fail(job_id, refused)
                    return {"job_id": job_id, "skipped": "poison"}
                # Failed by the watchdog while it waited in the queue, or ended before its worker died
                # un-acked: running it now would overwrite an answer the client already has.
                return {"job_id": job_id, "skipped": refused["detail"]}
        return super().__call__(*args, **kwargs)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = (kwargs or {}).get("job_id")
        if job_id:
            log.error("%s failed job %s: %s: %s", self.name, job_id, exc.__class__.__name__, exc)
            jobs.fail(job_id, {"type": "task-error", "detail": public_error(exc), "task": self.name})
