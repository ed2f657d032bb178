"""Chores a worker does besides its tasks, run after each beat of each process heartbeat
(worker/heartbeat.py) and after each task:

* every heartbeat, one replica across the deployment (a Redis lock picks it) redelivers the work
  of dead replicas (`reaper.recover_orphans`) and fails jobs past their deadline
  (`deadlines.fail_overdue_jobs`, the watchdog), then sends a delivery task for each job whose webhook
  is due (`outbox.drain_outbox`: the outbox written with the job's terminal status);
* every RECONCILE_INTERVAL_S, one replica sends again the message of a queued job that the broker
  lost (`reconcile.reconcile`);
* every UPLOAD_SWEEP_INTERVAL_S, one replica applies the upload retention
  (`retention.apply_upload_retention`, local backend);
* after a task marked `trims_memory` (segments), the process hands its free heap back
  (`memory.release_free_heap`).
"""

from __future__ import annotations

import logging

from brigade import deadlines
from brigade.memory import release_free_heap
from brigade.redis_client import key, redis_client
from brigade.retention import apply_upload_retention
from brigade.settings import get_settings
from brigade.webhooks import outbox
from worker import reaper, reconcile, work
from worker.celery_app import app as celery_app
from worker.heartbeat import settling
from worker.identity import process_id

log = logging.getLogger(__name__)


def send_delivery(job_id: str) -> None:
    """A job's webhook is due: its delivery task, sent by name (the table of work's row)."""
    celery_app.send_task(work.WEBHOOK_DELIVERY, kwargs={"job_id": job_id})


def on_heartbeat() -> None:
    """Run after each heartbeat of each pool process; cheap when another replica holds the lock."""
    owner = process_id()
    lock_ms = int(get_settings().HEARTBEAT_INTERVAL_S * 1000)
    if redis_client().set(key("housekeeping-lock"), owner, nx=True, px=lock_ms):
        if not settling():  # after a Redis stall, live replicas' heartbeats may have lapsed
            reaper.recover_orphans()
        deadlines.fail_overdue_jobs()
        outbox.drain_outbox(send_delivery)
    if reconcile.due(owner):
        reconcile.reconcile(celery_app)
    deleted = apply_upload_retention(owner)
    if deleted:
        log.info("upload retention: deleted %d file(s) older than %.0f s", len(deleted), get_settings().UPLOAD_RETENTION_S)


def after_task(task) -> None:
    if getattr(task, "trims_memory", False):  # segment tasks: see brigade/memory.py
        release_free_heap()
