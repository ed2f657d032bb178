"""POST /v1/hotel-prices past validation, in this process (the app layer, tests/appkit.py): the job
and the task it sends, with the caller's tier as message priority; 202 with the job to poll when no
answer comes within the app's HOTEL_SYNC_WAIT_S, 200 with the hotels when the job succeeds in
time, 500 when it fails, 503 when the broker does not answer. (Validation: tests/test_hotel_api.py.)"""

from __future__ import annotations

import pytest

from app.tiers import priority_for
from brigade import jobs
from tests.appkit import conforms, problem
from tests.stack import hotel_stay

TASK = "tasks.events.predict_prices"
PREMIUM = "test-premium-1"  # tests/conftest.py's API_KEYS


@pytest.fixture
def no_wait(make_app):
    """An app that answers at once: nobody is there to price within HOTEL_SYNC_WAIT_S."""
    return make_app(HOTEL_SYNC_WAIT_S="0").test_client()


@pytest.mark.parametrize("key, tier", [(None, "anonymous"), (PREMIUM, "premium")])
def test_without_an_answer_in_time_it_is_a_202_and_a_job_to_poll(no_wait, recorder, key, tier):
    stay = hotel_stay(destination="  Paris ", budget=900)
    response = no_wait.post("/v1/hotel-prices", json=stay, headers={"X-API-Key": key} if key else {})
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    conforms(body, "Accepted")
    assert body["status"] == "queued" and body["tier"] == tier
    assert response.headers["Location"] == body["status_url"] == f"/v1/jobs/{body['job_id']}"

    sent = recorder.only()
    assert sent.name == TASK and sent.task_id == sent.kwargs["job_id"] == body["job_id"]
    assert sent.priority == priority_for(tier, "redis://")
    assert set(sent.kwargs) == {"job_id", "request"}  # the task's whole signature: the tier is the priority
    assert {k: sent.kwargs["request"][k] for k in ("destination", "check_in", "check_out", "guests", "budget")} == {
        **stay, "destination": "paris"}
    record = jobs.get_job(body["job_id"])
    assert (record["kind"], record["mode"], record["status"]) == ("hotel-prices", "event", "queued")
    assert record["input"]["tier"] == tier and record["input"]["destination"] == "paris"


def test_premium_is_sent_ahead_of_anonymous(no_wait, recorder):
    no_wait.post("/v1/hotel-prices", json=hotel_stay())
    no_wait.post("/v1/hotel-prices", json=hotel_stay(), headers={"Authorization": f"Bearer {PREMIUM}"})
    anonymous, premium = recorder.sent
    assert premium.priority < anonymous.priority  # the Redis transport serves 0 first


def test_an_answer_within_the_wait_is_a_200_with_the_hotels(client, recorder):
    hotels = [{"name": "H1", "nightly_price": 120.0}, {"name": "H2", "nightly_price": 140.0}]
    recorder.on_send = lambda sent: jobs.succeed(sent.task_id, {"currency": "USD", "hotels": hotels},
                                                 timings={"predict_s": 0.001}, model={"name": "hotel-price", "version": "1.0.0"})
    response = client.post("/v1/hotel-prices", json=hotel_stay(), headers={"X-API-Key": PREMIUM})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == "succeeded" and body["tier"] == "premium" and body["job_id"] == recorder.only().task_id
    assert body["hotels"] == hotels and body["model"]["name"] == "hotel-price" and body["timings"] == {"predict_s": 0.001}


def test_a_failure_within_the_wait_is_a_500_naming_the_job(client, recorder):
    recorder.on_send = lambda sent: jobs.fail(sent.task_id, {"type": "invalid-request", "detail": "no such hotel"})
    body = problem(client.post("/v1/hotel-prices", json=hotel_stay()), 500, "prediction-failed")
    assert body["detail"] == "no such hotel"
    assert body["job_id"] == recorder.only().task_id and body["status_url"] == f"/v1/jobs/{body['job_id']}"


def test_a_broker_that_does_not_answer_is_a_503_and_the_job_fails(client, recorder):
    recorder.down = True
    problem(client.post("/v1/hotel-prices", json=hotel_stay()), 503, "broker-unavailable")
    assert recorder.sent == [] and jobs.get_job(recorder.refused[0].task_id)["status"] == "failed"
