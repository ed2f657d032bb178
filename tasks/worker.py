"""The worker's entry: the last module a worker imports (`tasks.work.WORKER_ENTRY`, in the Celery
app's `include`), which connects the life cycle (tasks/lifecycle.py), the chores
(tasks/chores.py), the standby shard watcher and the events pool's preload to Celery's signals,
here and nowhere else. The API never imports it: sending a task by name needs none of this.
"""

from __future__ import annotations

from celery import signals

from brigade import redis_client
from tasks import chores, events, kombu_acks, lifecycle, standby


def _on_pool_process_start(**_):
    lifecycle.start_heartbeat(on_beat=chores.on_heartbeat)


def _on_worker_ready(sender=None, **_):
    lifecycle.start_host_heartbeat()
    if lifecycle.runs_tasks_in_main_process():  # solo/threads pools: no pool child will start it
        lifecycle.start_heartbeat(on_beat=chores.on_heartbeat)
    standby.start_if_standby(sender)
    events.report_preload()


def _on_worker_stop(**_):
    lifecycle.stop_host_heartbeat()
    if lifecycle.runs_tasks_in_main_process():
        lifecycle.stop_heartbeat()


def _on_pool_process_stop(**_):
    lifecycle.stop_heartbeat()


def _after_task(task_id, task=None, **_):
    lifecycle.untrack(task_id)
    chores.after_task(task)


def connect() -> None:
    """Connect every handler (weakly held by Celery: these are module-level functions), make
    this process's Redis client ride out transient faults (brigade/redis_client.py), and its
    consumer survive an ack that a fault refused (tasks/kombu_acks.py)."""
    redis_client.be_patient()
    kombu_acks.install()
    signals.worker_init.connect(events.preload_in_parent)
    signals.celeryd_after_setup.connect(lifecycle.remember_worker)
    signals.worker_process_init.connect(_on_pool_process_start)
    signals.worker_process_init.connect(events.on_pool_process_start)
    signals.worker_ready.connect(_on_worker_ready)
    signals.worker_process_shutdown.connect(_on_pool_process_stop)
    signals.worker_shutdown.connect(_on_worker_stop)
    signals.task_received.connect(lifecycle.track_received)
    signals.task_prerun.connect(lifecycle.track_running)
    signals.task_postrun.connect(_after_task)


connect()
