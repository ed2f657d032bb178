"""Trivial tasks for measuring the serving path itself (no model, no I/O)."""

from __future__ import annotations

from brigade import jobs
from tasks.base import JobTask
from worker.celery_app import app


@app.task(name="tasks.ops.noop")
def noop(value=None):
    return value


@app.task(name="tasks.ops.echo", base=JobTask)
def echo(job_id: str, payload=None):
    jobs.succeed(job_id, {"echo": payload})
    return payload
