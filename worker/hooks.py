"""Every Celery signal the worker runtime listens to, connected here and nowhere else.

Bootsteps (worker/steps.py) run in the worker's main process only; what happens in each pool
process, or around each message, rides Celery's signals. By the order in which they fire:

| signal | process | hook |
| --- | --- | --- |
| `worker_init` | main, before forking | task modules' hooks (`work.TASK_HOOKS`): an events worker loads its model |
| `celeryd_after_setup` | main | `identity.remember_worker`: name, queues, tasks in the main process or not; then |
| | | `drain_legacy_queues`: a control worker also consumes the legacy `merge` queue (one release) |
| `worker_process_init` | each prefork child | `_on_pool_process_start`: heartbeat, warm-up, chores; then task hooks |
| `worker_ready` | main | task modules' hooks (the events worker says what its preload did) |
| `task_received` | main | `tracking.track_received`: the message is held by this worker |
| `task_prerun` | the executing process | `tracking.track_running`: ... and run by this process |
| `task_postrun` | the executing process | `_after_task`: the record is dropped (acked), then the chore after a task (heap trimming) |
| `worker_process_shutdown` | each prefork child | `_on_pool_process_stop`: its heartbeat is removed |

The task modules' own hooks are named in the table of work (`worker/work.py`, `TASK_HOOKS`) and
resolved here by name: this package imports no task module.
"""

from __future__ import annotations

from celery import signals
from celery.utils.functional import fun_accepts_kwargs
from celery.utils.imports import symbol_by_name

from worker import chores, heartbeat, identity, queues, tracking, work


def drain_legacy_queues(sender=None, instance=None, **_):
    """LEGACY, removable after one release with `queues.LEGACY_DRAINS`: a worker of the control
    queue also consumes the queue's old name, `merge`, so messages left there at the upgrade run.
    At celeryd_after_setup, Celery's documented moment to change the queues after `-Q`; after
    `remember_worker`, so heartbeats name the queues of the command line only."""
    amqp_queues = instance.app.amqp.queues
    for name in queues.legacy_drains(set(amqp_queues.consume_from)):
        amqp_queues.select_add(amqp_queues[name])


def _on_pool_process_start(**_):
    heartbeat.start_heartbeat(on_beat=chores.on_heartbeat)


def _on_pool_process_stop(**_):
    heartbeat.stop_heartbeat()


def _after_task(task_id, task=None, **_):
    tracking.untrack(task_id)
    chores.after_task(task)


#: (signal, handler) in the order they are connected: a signal calls its handlers in that order.
RUNTIME_HOOKS = (
    (signals.celeryd_after_setup, identity.remember_worker),
    (signals.celeryd_after_setup, drain_legacy_queues),
    (signals.worker_process_init, _on_pool_process_start),
    (signals.worker_process_shutdown, _on_pool_process_stop),
    (signals.task_received, tracking.track_received),
    (signals.task_prerun, tracking.track_running),
    (signals.task_postrun, _after_task),
)


def task_hook(name: str):
    """The task module's function `name` ("module:function"), as a signal handler: one that takes
    no signal arguments (`report_preload()`) is called without them."""
    handler = symbol_by_name(name)
    return handler if fun_accepts_kwargs(handler) else lambda **_: handler()


def connect() -> None:
    """Connect every hook: ours weakly held by Celery (module-level functions), the task modules'
    strongly (a wrapper has no other reference)."""
    for signal, handler in RUNTIME_HOOKS:
        signal.connect(handler)
    for signal_name, handler_name in work.TASK_HOOKS:
        getattr(signals, signal_name).connect(task_hook(handler_name), weak=False)
