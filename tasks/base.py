"""The base class of every job task: whatever goes wrong, the job record ends `failed` with an
error a client can act on, and the worker process lives on; a message whose job has already
ended is not run again."""

from __future__ import annotations

import logging

from celery import Task

from brigade import jobs

log = logging.getLogger(__name__)


class JobTask(Task):
    abstract = True

    def __call__(self, *args, **kwargs):
        job_id = kwargs.get("job_id")
        if job_id and jobs.is_terminal(job_id):
            # The watchdog failed it while it waited in the queue, or it ended and its worker died
            # before acking: running it now would overwrite an answer the client already has.
            log.warning("%s: job %s has already ended; message dropped", self.name, job_id)
            return {"job_id": job_id, "skipped": "the job had already ended"}
        return super().__call__(*args, **kwargs)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = (kwargs or {}).get("job_id")
        if job_id:
            jobs.fail(job_id, {"type": "task-error", "detail": f"{exc.__class__.__name__}: {exc}"[:2000],
                               "task": self.name})
