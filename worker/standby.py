"""Standby shard worker (SHARD_ROUTING=hash): takes over the `shard.<n>` queue of a shard whose
heartbeat has expired, and hands it back once a primary for that shard heartbeats again.

Runs as a thread in a worker started with SHARD_STANDBY=true (started by the `StandbyWatcher`
bootstep, worker/steps.py); it changes what its own worker
consumes through Celery's remote control (`add_consumer` / `cancel_consumer`), which the worker's
event loop applies, so no consumer state is touched from this thread.
"""

from __future__ import annotations

import logging
import threading

from brigade.heartbeats import list_replicas
from brigade.settings import get_settings
from worker import queues
from worker.identity import set_extra_queues

log = logging.getLogger(__name__)


def _primaries(replicas: list[dict], queue: str, me: str) -> list[dict]:
    """`replicas` is one `list_replicas(ready_only=True)` per tick, filtered here per queue."""
    return [r for r in replicas if queue in r.get("queues", []) and r["hostname"] != me]


def watch_shards(app, hostname: str, stop: threading.Event) -> None:
    s = get_settings()
    taken: set[str] = set()
    while not stop.wait(s.HEARTBEAT_INTERVAL_S):
        try:
            ready = list_replicas(ready_only=True)
            for queue in queues.shard_queues(s.NUM_SHARDS):
                has_primary = bool(_primaries(ready, queue, hostname))
                if not has_primary and queue not in taken:
                    app.control.add_consumer(queue, destination=[hostname], reply=True, timeout=5)
                    taken.add(queue)
                    log.warning("standby %s took over %s: its shard worker's heartbeat expired", hostname, queue)
                elif has_primary and queue in taken:
                    app.control.cancel_consumer(queue, destination=[hostname], reply=True, timeout=5)
                    taken.discard(queue)
                    log.warning("standby %s handed %s back to its shard worker", hostname, queue)
            set_extra_queues(sorted(taken))
        except Exception:
            log.warning("standby check failed", exc_info=True)

