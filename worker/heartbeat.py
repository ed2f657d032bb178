"""Heartbeats and readiness.

* **Process heartbeat**: each process that executes tasks (a prefork child, or the main process
  of a solo or threads pool) publishes `<prefix>:hb:<hostname>:<pid>` every HEARTBEAT_INTERVAL_S
  with a TTL of HEARTBEAT_TTL_S: hostname, queues, model name@version, device, ready. The API's
  /readyz reads these keys. The model is warmed up in a thread (worker/warmup.py): the heartbeat
  says unready until it is loaded, and says why if it cannot be.
* **Host heartbeat**: the worker's main process publishes `<prefix>:hb-host:<node>@<host>`, busy
  or idle, also while a prefork or autoscaled pool has no child (the events pool at zero
  processes): it holds the messages it has received (worker/reaper.py), and the liveness probe
  reads it (worker/alive.py).

Started by worker/steps.py (main process) and worker/hooks.py (pool children).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from brigade import heartbeats
from brigade.settings import get_settings
from worker.identity import WORKER, incarnation, process_id

log = logging.getLogger(__name__)


@dataclass
class Readiness:
    """What this process's heartbeat says about its model, and when a Redis stall ends."""

    model: str | None = None
    device: str | None = None
    ready: bool = False
    error: str | None = None
    settling_until: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)


READINESS = Readiness()
_host_stop = threading.Event()


def publish_heartbeat() -> None:
    heartbeats.publish(process_id(), {
        "hostname": WORKER.hostname,
        "process": process_id(),
        "pid": os.getpid(),
        "queues": sorted({*WORKER.queues, *WORKER.extra_queues}),
        "model": READINESS.model,
        "device": READINESS.device,
        "ready": READINESS.ready,
        "error": READINESS.error,
        "incarnation": incarnation(),
        "at": time.time(),
    })


def _warm_up() -> None:
    """Load the model this replica serves, once per process, then report ready."""
    try:
        from worker.warmup import warm_up_for

        info = warm_up_for(WORKER.queues)
        READINESS.model, READINESS.device, READINESS.ready = info.get("model"), info.get("device"), True
    except Exception as exc:  # a replica that cannot load its model stays unready, and says why
        log.exception("model warm-up failed")
        READINESS.ready, READINESS.error = False, f"{exc.__class__.__name__}: {exc}"
    publish_heartbeat()


def _heartbeat_loop(on_beat: Callable[[], None] | None) -> None:
    s = get_settings()
    while not READINESS.stop.wait(s.HEARTBEAT_INTERVAL_S):
        began = time.monotonic()
        try:
            publish_heartbeat()
            if time.monotonic() - began > s.HEARTBEAT_TTL_S / 2:  # Redis stalled: every heartbeat may have lapsed
                READINESS.settling_until = time.monotonic() + 2 * s.HEARTBEAT_TTL_S
            if on_beat is not None:
                on_beat()
        except Exception:  # Redis briefly away: try again next beat
            READINESS.settling_until = time.monotonic() + 2 * s.HEARTBEAT_TTL_S
            log.warning("heartbeat failed", exc_info=True)


def settling() -> bool:
    """Just after a Redis stall or outage every replica's heartbeat may have expired with the
    replica alive: until the others have beaten again, an expired heartbeat proves nothing."""
    return time.monotonic() < READINESS.settling_until


def start_heartbeat(on_beat: Callable[[], None] | None = None) -> None:
    """Heartbeat this process from now on and warm its model up in a thread; `on_beat` runs after
    every beat (the chores, worker/chores.py)."""
    READINESS.stop.clear()
    publish_heartbeat()  # unready at once, so a task that arrives now is accounted for
    threading.Thread(target=_warm_up, name="brigade-warmup", daemon=True).start()
    threading.Thread(target=_heartbeat_loop, args=(on_beat,), name="brigade-heartbeat", daemon=True).start()


def stop_heartbeat() -> None:
    READINESS.stop.set()
    try:
        heartbeats.remove(process_id())
    except Exception:
        log.warning("could not remove heartbeat", exc_info=True)


def start_host_heartbeat() -> None:
    """The main process's own heartbeat: it holds the messages it has received, also while a
    prefork or autoscaled pool has no child (the events pool at zero processes)."""
    interval = get_settings().HEARTBEAT_INTERVAL_S

    def beat():
        while True:
            try:
                heartbeats.publish_host(WORKER.hostname, incarnation())
            except Exception:
                log.warning("worker heartbeat failed", exc_info=True)
            if _host_stop.wait(interval):
                return

    _host_stop.clear()
    heartbeats.publish_host(WORKER.hostname, incarnation())
    threading.Thread(target=beat, name="brigade-host-heartbeat", daemon=True).start()


def stop_host_heartbeat() -> None:
    _host_stop.set()
    try:
        heartbeats.remove_host(WORKER.hostname)
    except Exception:
        log.warning("could not remove the worker heartbeat", exc_info=True)
