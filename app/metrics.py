"""Prometheus metrics of the API: `GET /metrics`, for the operator only (app/operator.py).

What is exposed (docs/DEPLOY.md has the list with their meaning):

- `brigade_http_requests_total{method,endpoint,status}` and
  `brigade_http_request_duration_seconds{method,endpoint,status}` (histogram), recorded by this
  process for every request. `endpoint` is the URL rule (`/v1/jobs/<job_id>`), never the raw path,
  so job ids cannot blow up the number of series; requests that match no rule count as
  `<unmatched>`, and methods outside the standard ones as `OTHER`.
- Read from the broker and Redis at scrape time (nothing the API counts itself, so every API
  replica reports the same values): `brigade_queue_depth{queue}` (messages waiting in the broker
  for each queue of `worker.queues.ALL`, plus the `shard.<n>` queues under SHARD_ROUTING=hash),
  `brigade_broker_up`, `brigade_jobs_finished_total{status}` (the hash `brigade.job_keys.job_stats()`
  that `brigade.jobs.update_job` increments on each terminal status) and `brigade_ready_replicas{queue}`
  (live replica heartbeats); from the events autoscaler's last forecast (`<prefix>:forecast:<queue>`,
  written with AUTOSCALE_PREDICTIVE, docs/EVENTS.md): `brigade_forecast_arrivals_per_second{queue}`,
  `brigade_forecast_error_ratio{queue}` and `brigade_forecast_processes{queue}`.

Under gunicorn, every worker process keeps its own counters. `app/gunicorn_conf.py` sets
PROMETHEUS_MULTIPROC_DIR before any worker imports prometheus_client, so the counters live in
files there and `/metrics` adds up all workers, whichever one answers the scrape. Without that
variable (the Flask test client, `flask run`) the metrics are those of the one process.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache

import redis
from flask import Flask, Response, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from app import context
from app.operator import require_operator
from brigade import arrivals, job_keys, jobs
from brigade.broker_queues import amqp_queue_depth, is_redis_url, redis_layout, redis_queue_depths
from brigade.heartbeats import list_replicas
from brigade.redis_client import connect
from worker import queues

REQUESTS = Counter("brigade_http_requests", "HTTP requests the API answered.", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "brigade_http_request_duration_seconds", "Time to answer an HTTP request (includes ?wait= long polls).",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)

UNMATCHED = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def register_metrics(app: Flask) -> None:
    """Time and count every request, and serve GET /metrics."""

    def _start_timer():
        g._brigade_metrics_started = time.perf_counter()

    # First of the before-request hooks: one that answers early (a rate limit's 429) skips the rest.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)

    @app.after_request
    def _record(response):
        method = request.method if request.method in KNOWN_METHODS else "OTHER"  # invented methods: one series
        labels = (method, request.url_rule.rule if request.url_rule else UNMATCHED, str(response.status_code))
        REQUESTS.labels(*labels).inc()
        started = g.pop("_brigade_metrics_started", None)
        if started is not None:
            LATENCY.labels(*labels).observe(time.perf_counter() - started)
        return response

    app.add_url_rule("/metrics", "metrics", metrics_view, methods=["GET"])


def metrics_view() -> Response:
    require_operator()
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(RedisStatsCollector())
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _ThisProcess:
    """The default registry (this process's counters) as one collector of a scrape's registry."""

    def collect(self):
        return REGISTRY.collect()


@lru_cache(maxsize=4)
def _scrape_client(url: str) -> redis.Redis:
    # Short timeouts: a scrape must answer even when Redis does not.
    return connect(url, socket_timeout=2, decode_responses=True)


def queue_names() -> tuple[str, ...]:
    """worker.queues.ALL, plus the `shard.<n>` queues when SHARD_ROUTING=hash uses them."""
    s = context.settings()
    return queues.declared(s.NUM_SHARDS) if s.SHARD_ROUTING == "hash" else queues.ALL


def queue_depths() -> dict[str, int]:
    """Waiting messages per queue (see queue_names), read from the broker now. Messages a worker
    has already taken (unacked) are not counted. Raises when the broker does not answer."""
    celery = context.celery()
    url = celery.conf.broker_url
    if is_redis_url(url):
        steps, prefix = redis_layout(celery)
        return redis_queue_depths(_scrape_client(url), queue_names(), steps, prefix)
    return _amqp_queue_depths(celery)


def _amqp_queue_depths(celery) -> dict[str, int]:
    """AMQP: a passive declare returns the ready-message count; a queue nobody declared yet is empty."""
    depths = {}
    with celery.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        for name in queue_names():
            channel = conn.channel()  # a failed passive declare closes its channel: one per queue
            try:
                depths[name] = amqp_queue_depth(channel, name)
            except conn.channel_errors:
                depths[name] = 0
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
    return depths


class RedisStatsCollector:
    """Values read at scrape time: the same on every API replica, no matter which one is scraped."""

    def collect(self):
        up = GaugeMetricFamily("brigade_broker_up", "1 when the broker answered this scrape, else 0.")
        depth = GaugeMetricFamily("brigade_queue_depth", "Messages waiting in the broker, per Celery queue.", labels=["queue"])
        try:
            depths = queue_depths()
        except Exception:
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            for name, n in depths.items():
                depth.add_metric([name], n)
        yield up
        yield depth

        s = context.settings()
        finished = CounterMetricFamily("brigade_jobs_finished", "Jobs that reached a terminal status, by status.", labels=["status"])
        ready = GaugeMetricFamily("brigade_ready_replicas", "Worker processes with a live heartbeat that report ready, per queue.",
                                  labels=["queue"])
        try:
            client = _scrape_client(s.store_url)
            counts = client.hgetall(job_keys.job_stats())
            replicas = list_replicas(ready_only=True, client=client)
        except Exception:
            return  # Redis is away: report no job or replica series rather than made-up zeros
        for status in (jobs.SUCCEEDED, jobs.FAILED):
            finished.add_metric([status], float(counts.get(status, 0)))
        for name in queue_names():
            ready.add_metric([name], sum(1 for r in replicas if name in r.get("queues", [])))
        yield finished
        yield ready
        yield from forecast_metrics(client)


def forecast_metrics(client):
    """The autoscalers' live forecasts (none: no series); the error once a forecast's horizon has passed."""
    rate = GaugeMetricFamily("brigade_forecast_arrivals_per_second", "Arrivals per second the autoscaler expects over "
                             "the next FORECAST_HORIZON_S, per queue.", labels=["queue"])
    error = GaugeMetricFamily("brigade_forecast_error_ratio", "Mean |forecast - actual| / actual of the autoscaler's recent "
                              "forecasts whose horizon has passed, per queue.", labels=["queue"])
    processes = GaugeMetricFamily("brigade_forecast_processes", "Processes the forecast asks for: ceil(rate x service time / "
                                  "AUTOSCALE_TARGET_UTILIZATION), before the reactive rule and the pool's maximum.", labels=["queue"])
    try:
        forecasts = arrivals.read_forecasts(queue_names(), client)
    except Exception:
        return
    for name, record in forecasts.items():
        rate.add_metric([name], float(record["rate"]))
        processes.add_metric([name], float(record["processes"]))
        if record.get("error") is not None:
            error.add_metric([name], float(record["error"]))
    yield rate
    yield error
    yield processes
