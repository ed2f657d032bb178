"""Who holds each message: the `<prefix>:running` hash, a record per task id from the moment a
worker receives it until its task has run (acked), read by the reaper (worker/reaper.py), the
reconciler (worker/reconcile.py) and the liveness probe (worker/alive.py)."""

from __future__ import annotations

import json
import time

from brigade.redis_client import key, redis_client
from worker.identity import WORKER, incarnation, process_id


def running_key() -> str:
    return key("running")


def _track(task_id: str, hostname: str, process: str | None, task_name: str, kwargs: dict | None) -> None:
    """Record who holds `task_id` (process None: received, not yet running), for the reaper."""
    entry = {"hostname": hostname, "process": process, "task": task_name, "job_id": (kwargs or {}).get("job_id"),
             "started": time.time(), "incarnation": incarnation()}
    redis_client().hset(running_key(), task_id, json.dumps(entry))


def track_received(request, **_) -> None:
    """task_received: from the moment a worker holds a message (before any pool process runs it),
    a record says whose it is: a worker killed between taking a message and starting it must not
    strand it."""
    _track(request.id, WORKER.hostname or request.hostname, None, request.name, request.kwargs)


def track_running(task_id, task, args=None, kwargs=None, **_) -> None:
    """task_prerun: the record now names the executing process."""
    _track(task_id, WORKER.hostname, process_id(), task.name, kwargs)


def untrack(task_id: str) -> None:
    """task_postrun: the task is done (acked); nothing to redeliver."""
    redis_client().hdel(running_key(), task_id)
