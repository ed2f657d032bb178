"""The Celery bootsteps of a worker's main process, in the consumer's blueprint
(`app.steps["consumer"]`, registered by worker/entry.py), in start order:

1. `HostHeartbeat`: the host heartbeat (worker/heartbeat.py), after the consumer has set up its
   task consumer, so at the moment the worker is ready to take messages;
2. `InProcessHeartbeat`: for a solo or threads pool, whose tasks run in this process (no pool
   child will start one), the process heartbeat, the model's warm-up and the chores after each
   beat (worker/chores.py); a prefork child starts its own at `worker_process_init`
   (worker/hooks.py);
3. `StandbyWatcher`: with SHARD_STANDBY=true, the thread that takes over a dead shard's queue
   (worker/standby.py), once remote control (the `Control` step) listens.

Then Celery's event loop starts and sends `worker_ready`.

Why consumer steps, each started once: the consumer's blueprint starts when the broker is
connected (as Celery's own `Heart` step does), and restarts after a lost connection. A restart
calls `stop`, which does nothing here: the process lives on, and its host heartbeat must keep the
liveness probe and the reaper quiet through a broker failover. `shutdown` runs once, when the
worker stops, after the pool has finished its tasks (`WorkController.on_stopped`), as the
`worker_shutdown` signal did.
"""

from __future__ import annotations

import threading

from celery import bootsteps
from celery.worker.consumer.control import Control
from celery.worker.consumer.tasks import Tasks

from brigade.settings import get_settings
from worker import heartbeat, identity, standby


class _Once(bootsteps.StartStopStep):
    """Started the first time the consumer starts; not stopped by a consumer restart."""

    def __init__(self, c, **kwargs):
        self.started = False
        super().__init__(c, **kwargs)

    def start(self, c):
        if not self.started:
            self.started = True
            self.start_once(c)

    def start_once(self, c) -> None:
        raise NotImplementedError

    def stop(self, c):
        pass  # a broker reconnect: the process and its threads go on


class HostHeartbeat(_Once):
    """The worker's own heartbeat, `<prefix>:hb-host:<node>@<host>` (its liveness, the messages it holds)."""

    requires = (Tasks,)

    def start_once(self, c) -> None:
        heartbeat.start_host_heartbeat()

    def shutdown(self, c):
        heartbeat.stop_host_heartbeat()


class InProcessHeartbeat(_Once):
    """A solo or threads pool's process heartbeat, warm-up and chores (a prefork child's: worker/hooks.py)."""

    requires = (HostHeartbeat,)

    def start_once(self, c) -> None:
        if identity.runs_tasks_in_main_process():
            from worker import chores

            heartbeat.start_heartbeat(on_beat=chores.on_heartbeat)

    def shutdown(self, c):
        if identity.runs_tasks_in_main_process():
            heartbeat.stop_heartbeat()


class StandbyWatcher(_Once):
    """SHARD_STANDBY=true: serve the `shard.<n>` queue of a shard whose workers' heartbeats expired."""

    requires = (InProcessHeartbeat, Control)

    def __init__(self, c, **kwargs):
        self.stopping = threading.Event()
        super().__init__(c, **kwargs)

    def start_once(self, c) -> None:
        if get_settings().SHARD_STANDBY:
            threading.Thread(target=standby.watch_shards, args=(c.app, c.hostname, self.stopping),
                             name="brigade-standby", daemon=True).start()

    def shutdown(self, c):
        self.stopping.set()


#: In start order.
CONSUMER_STEPS = (HostHeartbeat, InProcessHeartbeat, StandbyWatcher)


def register(app) -> None:
    """Add the steps to `app`'s consumer blueprint (before a worker builds it: worker/entry.py)."""
    app.steps["consumer"].update(CONSUMER_STEPS)
