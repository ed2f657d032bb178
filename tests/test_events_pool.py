"""The event-driven pattern end to end: real API, real Redis, a real `celery worker -Q events
--autoscale=4,0` scaled by worker.autoscale.QueueDepthAutoscaler, prefetch 1 and acks_late.

The worker runs with a 3 s cool-down and EVENTS_SIMULATED_IO_MS=50: each task sleeps 50 ms, as a
supplier lookup would, so that a burst outruns one process (the model alone answers in ~1 ms, and
100 such requests never build a backlog worth scaling for).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
import requests

from brigade import heartbeats, jobs
from devtools import procs
from tests.stack import Workers, backlog_then_premium, finished, hotel_stay, post_hotel_prices, premium_overtook
from worker import queues
from worker.autoscale import BrokerDepth, read_samples

MAX, MIN, COOLDOWN_S = 4, 0, 3.0
POOL_ENV = {"AUTOSCALE_COOLDOWN_S": str(COOLDOWN_S), "AUTOSCALE_INTERVAL_S": "0.25", "EVENTS_SIMULATED_IO_MS": "50"}
PREMIUM_KEYS = [f"test-premium-{i}" for i in range(1, 5)]


def _depth() -> int:
    from worker.celery_app import app

    return BrokerDepth(app, "events").read()


@pytest.fixture(scope="module")
def events_pool(stack):
    """The autoscaled pool; started lazily, so a test can queue work before it exists."""
    with Workers(stack) as ws:
        worker = ws.events_pool("events-test", MAX, MIN, POOL_ENV)

        def _sampling():
            if worker.proc.poll() is not None:
                raise RuntimeError(f"events worker exited:\n{worker.log_text()[-3000:]}")
            return read_samples(worker.name)

        procs.wait_until(_sampling, 60, what="the events autoscaler's first sample")
        yield worker


def test_a_premium_request_overtakes_a_backlog_of_anonymous_ones(api, request):
    """12 anonymous requests queue while no pool process exists (each gets its 202 after
    HOTEL_SYNC_WAIT_S), then one premium request. The pool starts from zero: the premium one is
    taken first, although it arrived last."""
    assert _depth() == 0
    responses = backlog_then_premium(api, _depth, PREMIUM_KEYS[0])
    for response in responses:  # nobody was there to answer within the sync wait: 202 and a job to poll
        assert response.status_code == 202, response.text
        assert response.headers["Location"] == response.json()["status_url"]

    request.getfixturevalue("events_pool")  # now the pool starts, from zero processes
    records = [finished(r.json()["job_id"]) for r in responses]
    # Prefetch (EVENTS_MAX messages per worker) is the only way an anonymous request could start
    # before it, as the pool grows from zero; bound it by that window.
    taken_before = premium_overtook(records, MAX)
    print(f"premium arrived 13th of 13 and was taken after {taken_before} anonymous request(s)")
    # The first request after scale-from-zero: a fresh process, with the model already in memory.
    first = min(records, key=lambda r: r["started_at"])
    assert first["process"]["first_task_of_process"] is True
    assert first["process"]["preloaded_in_parent"] is True
    assert "served" not in first["result"]  # how it was served is the operator's, not the client's
    assert first["model"]["name"] == "hotel-price"  # the preloaded model answered (how fast: make bench)

    polled = requests.get(f"{api}{responses[-1].json()['status_url']}", headers={"X-API-Key": PREMIUM_KEYS[0]},
                          timeout=30).json()  # a keyed job is read with its key
    assert polled["status"] == "succeeded" and len(polled["result"]["hotels"]) == 6


def test_a_30_night_stay_is_answered_synchronously(api, events_pool):
    response = post_hotel_prices(api, hotel_stay(nights=30, destination="Aspen", budget=6000), PREMIUM_KEYS[1])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded" and body["tier"] == "premium" and body["nights"] == 30
    assert body["destination"] == "aspen" and body["currency"] == "USD" and body["model"]["name"] == "hotel-price"
    hotels = body["hotels"]
    assert len(hotels) == 6 and [h["nightly_price"] for h in hotels] == sorted(h["nightly_price"] for h in hotels)
    for h in hotels:
        low, high = h["interval"]
        assert low <= h["nightly_price"] <= high and 0 <= h["confidence"] <= 1
        assert h["within_budget"] == (h["total_price"] <= 6000)


def test_a_message_the_api_would_refuse_fails_its_job_in_the_apis_words(events_pool):
    """The worker checks what it is sent with the API's own checks (models/hotel/stay.py): a message
    from elsewhere fails its job as invalid-request, with the detail the API's 422 would give."""
    from app.errors import ApiError
    from app.hotel_validation import validate
    from worker.celery_app import app

    stay = {"destination": "paris", "check_in": "2026-07-03", "check_out": "2026-07-01", "guests": 9, "budget": None}
    job_id = jobs.create_job("hotel-prices", "event")
    app.send_task("tasks.events.predict_prices", kwargs={"job_id": job_id, "request": {**stay, "today": "2026-06-01"}},
                  task_id=job_id, queue=queues.EVENTS)
    record = jobs.subscribe_until_terminal(job_id, 60)
    with pytest.raises(ApiError) as refused:
        validate(stay, today=date(2026, 6, 1))
    assert record["status"] == jobs.FAILED
    assert record["error"] == {"type": "invalid-request", "detail": refused.value.detail}


def _after(samples: list[dict], marker: dict) -> list[dict]:
    """The samples written after `marker`, one read earlier: by their order in the autoscaler's
    append-only log, not by their clocks."""
    return samples[samples.index(marker) + 1:]


def _wait_for_processes(name: str, predicate, timeout: float, what: str) -> dict:
    return procs.wait_until(lambda: next((s for s in reversed(read_samples(name)[-3:]) if predicate(s["processes"])), None),
                            timeout, interval=0.1, what=what)


def test_a_burst_grows_the_pool_to_max_and_it_shrinks_back_after_the_cooldown(api, events_pool):
    """Behaviour only (what grew the pool, that the cool-down held it, that it shrank); the
    cool-down's length is checked against a fake clock in test_autoscale_unit.py, and how fast the
    pool follows a load is bench/bench_events.py's."""
    _wait_for_processes(events_pool.name, lambda n: n == MIN, COOLDOWN_S + 60, "the pool back at its minimum")
    ready_seen, stop = [0], threading.Event()

    def _watch_heartbeats():
        while not stop.is_set():
            ready_seen[0] = max(ready_seen[0], len(heartbeats.list_replicas("events", ready_only=True)))
            time.sleep(0.1)

    watcher = threading.Thread(target=_watch_heartbeats, daemon=True)
    watcher.start()
    before = read_samples(events_pool.name)[-1]  # the last sample before the burst: the log only grows after it
    with ThreadPoolExecutor(32) as pool:
        responses = list(pool.map(lambda i: post_hotel_prices(api, hotel_stay(days_ahead=10 + i % 200), PREMIUM_KEYS[i % 4]), range(100)))
    assert {r.status_code for r in responses} <= {200, 202}, [r.text for r in responses if r.status_code not in (200, 202)]
    job_ids = [r.json()["job_id"] for r in responses]
    assert len(set(job_ids)) == 100
    records = [finished(job_id) for job_id in job_ids]  # none lost: every one succeeded
    assert all(len(r["result"]["hotels"]) == 6 for r in records)
    stop.set()
    watcher.join()

    samples = _after(read_samples(events_pool.name), before)
    peak = max(s["processes"] for s in samples)
    assert peak == MAX, samples
    first_at_max = next(s for s in samples if s["processes"] == MAX)
    assert first_at_max["depth"] + first_at_max["in_worker"] >= MAX, first_at_max  # grown by the burst's backlog
    assert ready_seen[0] >= 2, "pool children started by the autoscaler heartbeat as ready"

    down = _wait_for_processes(events_pool.name, lambda n: n == MIN, COOLDOWN_S + 60, "the pool back at its minimum")
    samples = _after(read_samples(events_pool.name), before)
    samples = samples[: samples.index(down) + 1]  # up to the one that saw it back at its minimum
    # Without a cool-down the first idle look would shrink the pool; with it, the pool is seen idle
    # at its maximum before it shrinks.
    assert any(s["processes"] == MAX and s["depth"] + s["in_worker"] == 0 for s in samples), samples
    procs.wait_until(lambda: not heartbeats.list_replicas("events"), 10, what="the stopped children's heartbeats gone")
