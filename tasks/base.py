"""The base class of every job task: whatever goes wrong, the job record ends `failed` with an
error a client can act on, and the worker process lives on."""

from __future__ import annotations

from celery import Task

from brigade import jobs


class JobTask(Task):
    abstract = True

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        job_id = (kwargs or {}).get("job_id")
        if job_id:
            jobs.fail(job_id, {"type": "task-error", "detail": f"{exc.__class__.__name__}: {exc}"[:2000],
                               "task": self.name})
