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
  for the benchmark's plot;
* with AUTOSCALE_PREDICTIVE (off by default), also scales **ahead** of the arrivals it forecasts
  (`Predictor`, worker/forecast.py): on each tick one round trip reads the arrival counts the
  forecast needs and the run times of the tasks that ended since the last tick; the pool then
  wants at least `ceil(forecast rate x service time / AUTOSCALE_TARGET_UTILIZATION)` processes,
  never more than its maximum, and the forecast is written to `<prefix>:forecast:<queue>` for
  the API's /metrics.

It is selected with `worker_autoscaler = "worker.autoscale:QueueDepthAutoscaler"` and used by a
worker started with `--autoscale=MAX,MIN`. Every worker sees the whole backlog, so several
events workers on several hosts each scale towards it (together they drain it faster, at more
cost); divide `EVENTS_MAX` among hosts accordingly.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from functools import partial
from time import monotonic

from celery.worker import state
from celery.worker.autoscale import Autoscaler

from brigade import arrivals, jobs
from brigade.broker_queues import amqp_queue_depth, is_redis_url, redis_layout, redis_queue_depths
from brigade.settings import get_settings
from worker import forecast, queues

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


def forecast_processes(rate: float, service_time_s: float, utilization: float, quantile: float = 0.0) -> int:
    """Processes that keep up with `rate` arrivals/s of tasks holding a process `service_time_s`
    each, every process busy `utilization` of the time at most (Little's law, with headroom), and,
    with a `quantile`, at least enough for that share of the moments: arrivals are Poisson, so the
    tasks in service at once are Poisson with mean rate x service time (M/G/inf), and a clump above
    the mean rate is what sends a request to a process still starting (bench_predictive)."""
    mean = max(0.0, rate) * service_time_s
    busy = math.ceil(mean / utilization - 1e-9)  # 14/s x 0.05 s / 0.7 is 1, not 1.0000000000000002 -> 2
    return max(busy, poisson_quantile(mean, quantile)) if quantile > 0 else busy


def poisson_quantile(mean: float, q: float) -> int:
    """The smallest k with P(X <= k) >= q for X ~ Poisson(mean) (0 for a mean of 0)."""
    if mean <= 0:
        return 0
    k, term = 0, math.exp(-mean)
    total = term
    while total < q and k < 10_000:
        k += 1
        term *= mean / k
        total += term
    return k


def decide(*, depth: int, in_worker: int, current: int, minimum: int, maximum: int, now: float,
           cooldown_s: float, history: History, per_process: int = 1, ahead: int = 0) -> tuple[int, History]:
    """(processes the pool should have now, the updated history).

    Up: at once, to what the backlog and the tasks in hand want, or to `ahead` (what the forecast
    of arrivals asks for, capped at `maximum`) if more. Down: to the most the pool was wanted at
    over the last `cooldown_s` (so a pool is never shrunk below a size it needed within the
    cool-down, and a load that wavers between 1 and 3 keeps 3, instead of flapping), and never
    before it has been watched for a whole cool-down. Above `maximum` (lowered at run time): down
    at once."""
    wanted = wanted_processes(depth, in_worker, minimum, maximum, per_process)
    if ahead > wanted:
        wanted = min(maximum, ahead)
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

    def target(self, depth: int, in_worker: int, current: int, now: float, ahead: int = 0) -> int:
        target, self.history = decide(
            depth=depth, in_worker=in_worker, current=current, minimum=self.minimum, maximum=self.maximum,
            now=now, cooldown_s=self.cooldown_s, history=self.history, per_process=self.per_process, ahead=ahead)
        return target


@dataclass
class ServiceTime:
    """Seconds a task holds a pool process: an exponentially weighted mean of the pool's own
    recent tasks (`weight`: the newest one's share), `default_s` until one has been measured."""

    default_s: float
    weight: float = 0.2
    mean: float | None = None

    def add(self, seconds: float) -> None:
        self.mean = seconds if self.mean is None else self.mean + self.weight * (seconds - self.mean)

    @property
    def seconds(self) -> float:
        return self.default_s if self.mean is None else self.mean


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

    def client(self):
        """The autoscaler's own store client: short timeouts, never the workers' patient retries."""
        if self._client is None:
            from brigade.redis_client import connect

            self._client = connect(self.url, socket_timeout=1)
        return self._client

    def write(self, sample: dict, also=None) -> None:
        """Append `sample`; `also(pipe)` adds its own writes to the same round trip."""
        pipe = self.client().pipeline(transaction=False)
        pipe.rpush(self.key, json.dumps(sample))
        pipe.ltrim(self.key, -self.cap, -1)
        pipe.expire(self.key, 7 * 24 * 3600)
        if also is not None:
            also(pipe)
        pipe.execute()


def read_samples(hostname: str, client=None) -> list[dict]:
    """The samples a worker's autoscaler wrote, oldest first."""
    from brigade.redis_client import key, redis_client

    client = client or redis_client()
    return [json.loads(raw) for raw in client.lrange(key("autoscale", hostname), 0, -1)]


# --- the forecast (AUTOSCALE_PREDICTIVE) ------------------------------------------------------------------


class Predictor:
    """What the arrivals forecast asks of the pool (docs/EVENTS.md, "Predictive scaling").

    On each tick, one round trip: the arrival buckets worker/forecast.py needs (the last few
    horizons, and the level and horizon windows of up to SEASONS_BACK past seasons: a bounded
    read whatever the season) with the first-arrival mark, and the start and end of the jobs whose
    tasks left this worker since the last tick (the service time). Between ticks, `processes` is
    the last answer; it lapses to 0 when no forecast has been made for a whole horizon (Redis away).
    The error is that of the last ERROR_SAMPLES forecasts kept, one every half horizon."""

    ERROR_SAMPLES = 20

    def __init__(self, queue: str, client):
        s = get_settings()
        self.queue, self._client = queue, client
        self.horizon_s, self.season_s, self.bucket_s = s.FORECAST_HORIZON_S, s.FORECAST_SEASON_S, s.ARRIVAL_BUCKET_S
        self.retention_s, self.utilization = s.ARRIVAL_RETENTION_S, s.AUTOSCALE_TARGET_UTILIZATION
        self.quantile = s.AUTOSCALE_FORECAST_QUANTILE
        self.service = ServiceTime(s.FORECAST_SERVICE_TIME_S)
        self.step_s = self.horizon_s / 2
        self.lookback_s = self.ERROR_SAMPLES * self.step_s + self.horizon_s
        self.ttl_s = max(30.0, 10 * s.AUTOSCALE_INTERVAL_S)
        self.past: deque[tuple[float, float]] = deque(maxlen=self.ERROR_SAMPLES)
        self.last: forecast.Forecast | None = None
        self.last_at: float | None = None
        self.wanted = 0
        self._held: set[str] = set()
        self._ended: deque[str] = deque(maxlen=64)

    def watch(self, held: set[str]) -> None:
        """The ids of the tasks this worker holds now: those held at the last look and gone have ended."""
        self._ended.extend(self._held - held)
        self._held = held

    def tick(self, now: float) -> int:
        """Forecast again; the processes it asks for (before any maximum). Raises on a Redis fault."""
        read = arrivals.BucketRead.over(self.queue, forecast.windows(
            now, horizon_s=self.horizon_s, season_s=self.season_s, lookback_s=self.lookback_s), self.bucket_s)
        ended = list(self._ended)
        pipe = self._client().pipeline(transaction=False)
        read.queue_on(pipe)
        for job_id in ended:
            jobs.queue_run_time(pipe, job_id)
        raw = pipe.execute()
        self._ended.clear()
        for seconds in map(jobs.run_time, raw[1:]):
            if seconds is not None and seconds >= 0:
                self.service.add(seconds)
        first, history = read.decode(raw[0])
        since = now if first is None else max(first, now - self.retention_s)
        past = [(t, rate) for t, rate in self.past if t >= now - self.lookback_s]  # their outcome is in the read
        self.last = forecast.forecast(history, now=now, horizon_s=self.horizon_s, bucket_s=self.bucket_s,
                                      season_s=self.season_s, since=since, past=past)
        if not self.past or now - self.past[-1][0] >= self.step_s:
            self.past.append((now, self.last.rate))
        self.last_at = now
        self.wanted = forecast_processes(self.last.rate, self.service.seconds, self.utilization, self.quantile)
        return self.wanted

    def processes(self, now: float) -> int:
        return self.wanted if self.last_at is not None and now - self.last_at <= self.horizon_s else 0

    def record(self, now: float) -> dict | None:
        """The forecast as `<prefix>:forecast:<queue>` holds it (None before the first)."""
        if self.last is None:
            return None
        return {**asdict(self.last), "t": round(now, 3), "processes": self.processes(now), "horizon_s": self.horizon_s,
                "service_time_s": round(self.service.seconds, 6), "service_time_measured": self.service.mean is not None,
                "utilization": self.utilization}

    def write(self, pipe, now: float) -> None:
        record = self.record(now)
        if record is not None:
            arrivals.write_forecast(pipe, self.queue, record, self.ttl_s)


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
        self.predictor = Predictor(self.queue, self.samples.client) if s.AUTOSCALE_PREDICTIVE else None
        self.last_depth = 0
        self._depth_read_at = -1.0
        self._min_read_interval = min(0.1, s.AUTOSCALE_INTERVAL_S)
        self._warned_at = self._forecast_warned_at = -1e9
        log.info("autoscaler: %s processes %d..%d, cool-down %.1fs, tick %.2fs, queue %r%s",
                 type(self).__name__, min_concurrency, max_concurrency, s.AUTOSCALE_COOLDOWN_S,
                 s.AUTOSCALE_INTERVAL_S, self.queue,
                 f", predictive (season {s.FORECAST_SEASON_S:g}s, horizon {s.FORECAST_HORIZON_S:g}s, "
                 f"utilisation {s.AUTOSCALE_TARGET_UTILIZATION:g})" if self.predictor else "")

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

    def ahead(self, tick: bool) -> int:
        """Processes the forecast asks for (0 when not predictive); forecast again on a tick."""
        if self.predictor is None:
            return 0
        self.predictor.watch({r.id for r in state.reserved_requests})
        now = time.time()
        if tick:
            try:
                self.predictor.tick(now)
            except Exception as exc:  # Redis briefly away: the last forecast holds for a horizon
                if monotonic() - self._forecast_warned_at > 30:
                    self._forecast_warned_at = monotonic()
                    log.warning("autoscaler: cannot forecast the arrivals of %r (%s)", self.queue, exc)
        return self.predictor.processes(now)

    def _maybe_scale(self, req=None):
        depth = self.broker_depth()
        in_worker = len(state.reserved_requests)
        procs = self.processes
        self.policy.minimum, self.policy.maximum = self.min_concurrency, self.max_concurrency
        target = self.policy.target(depth, in_worker, procs, monotonic(), self.ahead(tick=req is None))
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
        now = time.time()
        sample = {"t": round(now, 3), "processes": self.processes, "depth": depth, "in_worker": in_worker,
                  "active": len(state.active_requests)}
        also = None
        if self.predictor is not None and self.predictor.last is not None:
            sample.update(forecast_rate=round(self.predictor.last.rate, 4), forecast_processes=self.predictor.processes(now))
            also = partial(self.predictor.write, now=now)
        try:
            self.samples.write(sample, also)
        except Exception:
            pass  # a missing sample must never stop the scaling

    def info(self):
        info = {**super().info(), "broker_depth": self.last_depth, "cooldown_s": self.policy.cooldown_s,
                "queue": self.queue}
        if self.predictor is not None:
            info["forecast"] = self.predictor.record(time.time())
        return info
