"""The arrival history in the session's test Redis (brigade/arrivals.py): buckets, zeros filled,
expiry, where the history begins; the API's submit counts each accepted job and a Redis fault in
counting does not fail it; the autoscaler's predictor forecasts from that history and measures
its service time from job records, and /metrics exports its forecast."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from brigade import arrivals, jobs
from brigade.redis_client import redis_client
from brigade.settings import get_settings, overridden
from devtools import procs
from tests.stack import hotel_stay
from worker import queues
from worker.autoscale import Predictor

pytestmark = pytest.mark.app


@pytest.fixture
def queue(redis_server) -> str:
    """A queue name of its own, so that no other test's arrivals are counted."""
    return f"probe-{uuid.uuid4().hex[:8]}"


def test_arrivals_are_counted_per_bucket_with_zeros_filled(queue):
    b = get_settings().ARRIVAL_BUCKET_S
    start = 1_000 * b
    for t, n in [(start + 1, 1), (start + b - 0.5, 2), (start + 3 * b, 1)]:
        arrivals.record(queue, n, now=t)
    assert arrivals.history(queue, start, start + 4 * b) == [(start, 3), (start + b, 0), (start + 2 * b, 0), (start + 3 * b, 1)]
    assert arrivals.history(queue, start + 0.5 * b, start + 1.5 * b) == [(start, 3), (start + b, 0)]  # every bucket it overlaps


def test_buckets_expire_after_the_retention_and_the_first_arrival_is_kept(queue):
    b, retention = get_settings().ARRIVAL_BUCKET_S, get_settings().ARRIVAL_RETENTION_S
    arrivals.record(queue, now=5_000 * b + 1)
    arrivals.record(queue, now=5_002 * b)
    client = redis_client()
    for key in (arrivals.bucket_key(queue, 5_000, b), arrivals.first_key(queue)):
        assert 0 < client.ttl(key) <= retention
    assert arrivals.first_arrival(queue) == 5_000 * b + 1  # the first, not the last
    assert arrivals.first_arrival(f"{queue}-none") is None


def _events_arrivals() -> int:
    now = time.time()
    return sum(n for _, n in arrivals.history(queues.EVENTS, now - 2 * get_settings().ARRIVAL_BUCKET_S, now + 1))


def test_an_accepted_job_is_an_arrival_on_its_queue_and_a_refused_one_is_not(make_app, recorder):
    api = make_app(HOTEL_SYNC_WAIT_S="0").test_client()
    before = _events_arrivals()
    assert api.post("/v1/hotel-prices", json=hotel_stay()).status_code == 202
    assert _events_arrivals() == before + 1
    recorder.down = True  # the broker refuses: 503, nothing accepted
    assert api.post("/v1/hotel-prices", json=hotel_stay()).status_code == 503
    assert _events_arrivals() == before + 1


def test_a_redis_fault_in_counting_does_not_fail_the_request(make_app, recorder, monkeypatch):
    dead = redis.Redis(port=procs.free_port(), socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(arrivals, "redis_client", lambda: dead)
    response = make_app(HOTEL_SYNC_WAIT_S="0").test_client().post("/v1/hotel-prices", json=hotel_stay())
    assert response.status_code == 202, response.get_data(as_text=True)
    assert jobs.get_job(response.get_json()["job_id"])["status"] == "queued"
    assert recorder.only().task_id == response.get_json()["job_id"]


# --- the predictor: a forecast from the real history -------------------------------------------------------

#: A compressed day: 100 s seasons of 1 s buckets, a 10 s horizon.
DAY = {"ARRIVAL_BUCKET_S": "1", "FORECAST_SEASON_S": "100", "FORECAST_HORIZON_S": "10", "ARRIVAL_RETENTION_S": "1000",
       "FORECAST_SERVICE_TIME_S": "0.05", "AUTOSCALE_TARGET_UTILIZATION": "0.5"}
RUSH = (50, 70)  # seconds of each season when 20 jobs/s arrive; 1/s otherwise


def _compressed_days(queue: str, start: float, seconds: int) -> None:
    """The arrivals of `seconds` of compressed days from `start`, as the API would have counted them."""
    pipe = redis_client().pipeline(transaction=False)
    for second in range(seconds):
        rate = 20 if RUSH[0] <= second % 100 < RUSH[1] else 1
        pipe.set(arrivals.bucket_key(queue, int(start) + second, 1.0), rate, ex=1000)
    pipe.set(arrivals.first_key(queue), repr(start), ex=1000)
    pipe.execute()


def test_the_predictor_scales_ahead_of_a_rush_seen_in_past_seasons(queue):
    start = (time.time() // 100) * 100 - 1000
    with overridden(**DAY):
        now = start + 300 + RUSH[0] - 5  # 5 s before the fourth day's rush, at 1 job/s so far
        _compressed_days(queue, start, int(now - start))
        predictor = Predictor(queue, redis_client)
        wanted = predictor.tick(now)
        assert predictor.last.method == "seasonal+trend" and predictor.last.recent_rate == pytest.approx(1.0)
        assert predictor.last.rate == pytest.approx((5 * 1 + 5 * 20) / 10, rel=0.05)  # half quiet, half rush
        assert wanted == 2  # ceil(10.5/s x 0.05 s / 0.5)
        assert predictor.processes(now + 10) == 2 and predictor.processes(now + 10.1) == 0  # a forecast lapses after its horizon

        fresh = Predictor(f"{queue}-new", redis_client)
        fresh.tick(now)
        assert (fresh.last.method, fresh.last.rate, fresh.wanted) == ("recent", 0.0, 0)


def test_the_predictor_measures_the_service_time_of_the_tasks_that_ended(queue):
    with overridden(**DAY):
        predictor = Predictor(queue, redis_client)
        ids = [jobs.create_job("hotel-prices", "event") for _ in range(3)]
        for job_id in ids:
            jobs.update_job(job_id, status=jobs.SUCCEEDED, started_at=100.0, finished_at=100.2)
        predictor.watch(set(ids) | {"still-running"})
        predictor.tick(time.time())
        assert not predictor.service.mean  # nothing has ended yet
        predictor.watch({"still-running"})
        predictor.tick(time.time())
        assert predictor.service.seconds == pytest.approx(0.2)


def test_the_forecast_is_exported_by_the_metrics(client, queue, monkeypatch):
    from prometheus_client.parser import text_string_to_metric_families

    monkeypatch.setattr("app.metrics.queue_names", lambda: (queue,))
    pipe = redis_client().pipeline(transaction=False)
    arrivals.write_forecast(pipe, queue, {"rate": 2.5, "error": 0.25, "processes": 3}, ttl_s=30)
    pipe.execute()
    scraped = {(s.name, s.labels.get("queue")): s.value
               for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)) for s in family.samples}
    assert scraped[("brigade_forecast_arrivals_per_second", queue)] == 2.5
    assert scraped[("brigade_forecast_error_ratio", queue)] == 0.25
    assert scraped[("brigade_forecast_processes", queue)] == 3
