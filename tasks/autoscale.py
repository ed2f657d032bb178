"""An autoscaler for the `events` pool that scales on the broker's backlog, with a cool-down.

Celery's own `Autoscaler` sizes the pool from `len(state.reserved_requests)`: the tasks this
worker has already *taken* from the broker. With `worker_prefetch_multiplier=1` and `acks_late`
a worker takes at most `max_concurrency` messages, so the backlog still in the broker is
invisible to it; it shrinks on a fixed keep-alive after the last task *received*; and in the
prefork event loop it only runs every keep-alive seconds. This subclass:

* reads the **queue depth in the broker** on every tick (every AUTOSCALE_INTERVAL_S) and on
  every task received: on Redis the LLEN of the queue's list and of each priority sub-list
  (`<queue>\\x06\\x16<step>`, one per `priority_steps`), in one pipeline; on AMQP a passive
  `queue_declare`, whose reply carries `message_count`;
* wants `ceil((depth + in_worker) / per_process)` processes, clamped to `[min, max]`, where
  `in_worker` counts the tasks this worker holds (running or prefetched);
* scales **up at once**, and **down** to the most it wanted over the last AUTOSCALE_COOLDOWN_S
  (a sliding maximum), so it shrinks only after a whole cool-down in which it never needed its
  current size, and a wavering load does not make it flap (the decision is `decide()`, pure
  and unit-tested);
* writes a sample `{t, processes, depth, in_worker, active}` to the Redis list
  `<prefix>:autoscale:<hostname>` (capped at AUTOSCALE_SAMPLES) on each tick and each change,
  for the benchmark's plot.

It is selected with `worker_autoscaler = "tasks.autoscale:QueueDepthAutoscaler"` and used by a
worker started with `--autoscale=MAX,MIN`. Every worker sees the whole backlog, so several
events workers on several hosts each scale towards it (together they drain it faster, at more
cost); divide `EVENTS_MAX` among hosts accordingly.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from time import monotonic

from celery.worker import state
from celery.worker.autoscale import Autoscaler

from brigade.broker_queues import amqp_queue_depth, is_redis_url, redis_layout, redis_queue_depths
from brigade.settings import get_settings
from tasks import queues

log = logging.getLogger(__name__)



# --- the decision: pure ----------------------------------------------------------------------------


def wanted_processes(depth: int, in_worker: int, minimum: int, maximum: int, per_process: int = 1) -> int:
    """Processes the work in sight needs: one per `per_process` tasks, clamped to [min, max]."""
    demand = max(0, depth) + max(0, in_worker)
    return min(maximum, max(minimum, math.ceil(demand / max(1, per_process))))


@dataclass(frozen=True)
class History:
    """What the decision remembers: when it first looked, and the sliding maximum of the processes
    wanted over the last cool-down (a monotonic queue: times rising, wants strictly falling, so
    it never holds more than `maximum + 1` entries however many tasks arrive)."""

    since: float | None = None
    peaks: tuple[tuple[float, int], ...] = ()

    def add(self, now: float, wanted: int, window_s: float) -> History:
        peaks = [p for p in self.peaks if now - p[0] < window_s]
        while peaks and peaks[-1][1] <= wanted:
            peaks.pop()
        peaks.append((now, wanted))
        return History(now if self.since is None else self.since, tuple(peaks))

    @property
    def peak(self) -> int:
        return self.peaks[0][1] if self.peaks else 0


def decide(*, depth: int, in_worker: int, current: int, minimum: int, maximum: int, now: float,
           cooldown_s: float, history: History, per_process: int = 1) -> tuple[int, History]:
    """(processes the pool should have now, the updated history).

    Up: at once, to what the backlog and the tasks in hand want. Down: to the most the pool was
    wanted at over the last `cooldown_s` (so a pool is never shrunk below a size it needed within
    the cool-down, and a load that wavers between 1 and 3 keeps 3, instead of flapping), and
    never before it has been watched for a whole cool-down. Above `maximum` (lowered at run
    time): down at once."""
    wanted = wanted_processes(depth, in_worker, minimum, maximum, per_process)
    history = history.add(now, wanted, cooldown_s)
    if current > maximum:
        return maximum, history
    if wanted >= current:
        return wanted, history
    if now - history.since < cooldown_s:
        return current, history
    return min(current, history.peak), history


@dataclass
class ScalePolicy:
    minimum: int
    maximum: int
    cooldown_s: float
    per_process: int = 1
    history: History = field(default_factory=History)

    def target(self, depth: int, in_worker: int, current: int, now: float) -> int:
        target, self.history = decide(
            depth=depth, in_worker=in_worker, current=current, minimum=self.minimum, maximum=self.maximum,
            now=now, cooldown_s=self.cooldown_s, history=self.history, per_process=self.per_process)
        return target


# --- the broker's backlog ------------------------------------------------------------------------------


class BrokerDepth:
    """Messages waiting in the broker for one queue (all priorities), read with short timeouts."""

    def __init__(self, app, queue: str):
        self.app, self.queue = app, queue
        self.url = app.conf.broker_url or ""
        self.is_redis = is_redis_url(self.url)
        self.layout = redis_layout(app)  # (priority steps, key prefix)
        self._client = None
        self._conn = None

    def read(self) -> int:
        if self.is_redis:
            if self._client is None:
                from brigade.redis_client import connect

                self._client = connect(self.url, socket_timeout=1)
            return redis_queue_depths(self._client, [self.queue], *self.layout)[self.queue]
        try:  # AMQP: a passive declare answers with the ready message count (unacked not included)
            if self._conn is None:
                self._conn = self.app.connection_for_read()
            return amqp_queue_depth(self._conn.default_channel, self.queue)
        except Exception:
            if self._conn is not None:
                self._conn.release()
            self._conn = None
            raise


class SampleLog:
    """Capped Redis list of autoscaler samples, one JSON object each."""

    def __init__(self, hostname: str):
        from brigade.redis_client import key

        s = get_settings()
        self.key = key("autoscale", hostname)
        self.cap = s.AUTOSCALE_SAMPLES
        self.url = s.store_url
        self._client = None

    def write(self, sample: dict) -> None:
        if self._client is None:
            from brigade.redis_client import connect

            self._client = connect(self.url, socket_timeout=1)
        pipe = self._client.pipeline(transaction=False)
        pipe.rpush(self.key, json.dumps(sample))
        pipe.ltrim(self.key, -self.cap, -1)
        pipe.expire(self.key, 7 * 24 * 3600)
        pipe.execute()


def read_samples(hostname: str, client=None) -> list[dict]:
    """The samples a worker's autoscaler wrote, oldest first."""
    from brigade.redis_client import key, redis_client

    client = client or redis_client()
    return [json.loads(raw) for raw in client.lrange(key("autoscale", hostname), 0, -1)]


# --- the Celery autoscaler -----------------------------------------------------------------------------


class QueueDepthAutoscaler(Autoscaler):
    """Celery autoscaler scaling on broker depth + tasks in hand, with a cool-down (see module doc)."""

    def __init__(self, pool, max_concurrency, min_concurrency=0, worker=None, keepalive=None, mutex=None):
        s = get_settings()
        # In the prefork event loop, `keepalive` is the period of the scaling tick.
        super().__init__(pool, max_concurrency, min_concurrency, worker=worker,
                         keepalive=s.AUTOSCALE_INTERVAL_S, mutex=mutex)
        self.policy = ScalePolicy(min_concurrency, max_concurrency, s.AUTOSCALE_COOLDOWN_S)
        app = worker.app if worker is not None else None
        consumed = [q.name for q in app.amqp.queues.consume_from.values()] if app is not None else [queues.EVENTS]
        self.queue = queues.EVENTS if queues.EVENTS in consumed else consumed[0]
        self.depth = BrokerDepth(app, self.queue) if app is not None else None
        self.samples = SampleLog(worker.hostname if worker is not None else "autoscaler")
        self.last_depth = 0
        self._depth_read_at = -1.0
        self._min_read_interval = min(0.1, s.AUTOSCALE_INTERVAL_S)
        self._warned_at = -1e9
        log.info("autoscaler: %s processes %d..%d, cool-down %.1fs, tick %.2fs, queue %r",
                 type(self).__name__, min_concurrency, max_concurrency, s.AUTOSCALE_COOLDOWN_S,
                 s.AUTOSCALE_INTERVAL_S, self.queue)

    def broker_depth(self) -> int:
        now = monotonic()
        if self.depth is not None and now - self._depth_read_at >= self._min_read_interval:
            self._depth_read_at = now
            try:
                self.last_depth = self.depth.read()
            except Exception as exc:  # broker briefly away: keep the last known depth
                if now - self._warned_at > 30:
                    self._warned_at = now
                    log.warning("autoscaler: cannot read the depth of %r (%s); using %d", self.queue, exc, self.last_depth)
        return self.last_depth

    def _maybe_scale(self, req=None):
        depth = self.broker_depth()
        in_worker = len(state.reserved_requests)
        procs = self.processes
        self.policy.minimum, self.policy.maximum = self.min_concurrency, self.max_concurrency
        target = self.policy.target(depth, in_worker, procs, monotonic())
        changed = False
        if target > procs:
            self.scale_up(target - procs)
            changed = True
        elif target < procs:
            self._shrink(procs - target)
            changed = True
        if changed or req is None:  # every tick, and every change
            self._sample(depth, in_worker)
        return changed

    def _sample(self, depth: int, in_worker: int) -> None:
        try:
            self.samples.write({"t": round(time.time(), 3), "processes": self.processes, "depth": depth,
                                "in_worker": in_worker, "active": len(state.active_requests)})
        except Exception:
            pass  # a missing sample must never stop the scaling

    def info(self):
        return {**super().info(), "broker_depth": self.last_depth, "cooldown_s": self.policy.cooldown_s,
                "queue": self.queue}
