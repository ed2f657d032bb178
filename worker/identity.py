"""Who this worker process is: the worker's name and queues, whether its tasks run in the main
process (solo and threads pools), the queues a standby took over, and this process's incarnation.

One `WorkerIdentity` per process (`WORKER`), filled at `celeryd_after_setup` in the main process
and inherited by the forked pool children.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field


@dataclass
class WorkerIdentity:
    hostname: str = ""  # the worker's node name, `name@host`
    queues: list[str] = field(default_factory=list)  # what it consumes from its start (-Q)
    extra_queues: list[str] = field(default_factory=list)  # taken over at run time (a standby's shard queues)
    solo: bool = False  # solo and threads pools run tasks in the main process: no pool children
    incarnations: dict[int, str] = field(default_factory=dict)  # pid -> incarnation(): a forked child is a new pid


WORKER = WorkerIdentity()


def process_id() -> str:
    return f"{WORKER.hostname or os.uname().nodename}:{os.getpid()}"


def incarnation() -> str:
    """A token drawn once per process (a forked pool child draws its own), in its heartbeats and
    in the `running` records it writes. A container restarted by its restart policy, or a pod's
    container restarted after its liveness probe failed, runs the worker again as PID 1 under the
    same hostname: by process_id() it is the process that was killed, and its heartbeat would keep
    that one's tasks looking alive, never redelivered; by incarnation it is not."""
    return WORKER.incarnations.setdefault(os.getpid(), secrets.token_hex(4))


def set_extra_queues(names: list[str]) -> None:
    """Queues taken over at run time (a standby serving a dead shard's queue), shown in heartbeats."""
    WORKER.extra_queues = list(names)


def remember_worker(sender, instance, **_) -> None:
    """celeryd_after_setup (worker/hooks.py): the worker's name and queues, and whether it has pool children."""
    WORKER.hostname = sender
    WORKER.queues = sorted(q.name for q in instance.app.amqp.queues.consume_from.values())
    # solo and threads pools run tasks in the main process: it has no pool children to heartbeat
    WORKER.solo = any(name in str(instance.pool_cls).lower() for name in ("solo", "thread"))


def runs_tasks_in_main_process() -> bool:
    return WORKER.solo
