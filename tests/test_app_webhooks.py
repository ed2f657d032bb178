"""Webhooks in this process against the session's Redis (the app layer, tests/appkit.py): a
`callback_url` is refused before any job exists (webhooks off, anonymous caller, URL not allowed),
an accepted one is kept in the job record with its place in the outbox, which the job's terminal
update makes due; GET /v1/webhook-secret gives each key its own secret; one delivery attempt
(a stand-in `send`, no network) signs the job's body and records its outcome."""

from __future__ import annotations

import json
import math

import pytest

from app.tiers import key_table
from brigade import deadlines, job_body, job_keys, jobs
from brigade.redis_client import key, redis_client
from brigade.webhooks import delivery, outbox, signing
from tests.appkit import conforms, problem, settings_with, upload
from tests.stack import hotel_stay

pytestmark = pytest.mark.app  # its layer (tests/conftest.py): the API in this process, the test Redis

KEY, OTHER_KEY = "test-premium-1", "test-authenticated-1"  # the session's keys (tests/conftest.py)
HOOK = "https://hooks.example.com/brigade?team=7"
ON = {"WEBHOOK_ALLOWED_HOSTS": "hooks.example.com", "WEBHOOK_SIGNING_SECRET": "app-test-master"}


@pytest.fixture
def on(make_app):
    return make_app(**ON).test_client()


def _identity(key: str) -> str:
    return key_table(settings_with(**ON)).lookup(key)[1]


def _outbox_score(job_id: str) -> float | None:
    return redis_client().zscore(job_keys.webhook_outbox(), job_id)


# --- refused before any job exists ----------------------------------------------------------------------


def test_webhooks_off_is_a_400_saying_so(client, recorder, clip, no_job_created):
    body = problem(upload(client, clip, f"?callback_url={HOOK}", headers={"X-API-Key": KEY}), 400, "invalid-callback")
    assert "webhooks are off" in body["detail"] and "WEBHOOK_ALLOWED_HOSTS" in body["detail"]
    assert recorder.sent == []


def test_an_anonymous_caller_may_not_ask_for_a_webhook(on, recorder, clip, no_job_created):
    response = upload(on, clip, f"?callback_url={HOOK}")
    problem(response, 401, "api-key-required")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert recorder.sent == []


@pytest.mark.parametrize("url, detail", [
    ("ftp://hooks.example.com/x", "http or https"),
    ("https://me:pw@hooks.example.com/", "user information"),
    ("http://169.254.169.254/latest/meta-data", "not allowed"),
    ("https://evil.test/", "not allowed"),
    ("https://hooks.example.com/" + "a" * 3000, "longer than"),
])
def test_a_callback_url_not_allowed_is_a_400(on, recorder, clip, no_job_created, url, detail):
    response = upload(on, clip, "", query_string={"callback_url": url}, headers={"X-API-Key": KEY})
    assert detail in problem(response, 400, "invalid-callback")["detail"]
    hotel = on.post("/v1/hotel-prices", json=hotel_stay(), query_string={"callback_url": url}, headers={"X-API-Key": KEY})
    problem(hotel, 400, "invalid-callback")
    assert recorder.sent == []


# --- accepted: kept in the record, due when the job ends -----------------------------------------------------


def test_an_accepted_callback_is_in_the_record_and_pending_until_the_job_ends(on, recorder, clip):
    response = upload(on, clip, "", query_string={"callback_url": HOOK}, headers={"X-API-Key": KEY})
    assert response.status_code == 202, response.get_data(as_text=True)
    job_id = response.get_json()["job_id"]
    assert "callback_url" not in recorder.only().kwargs  # the worker that tags the video never sees it
    record = jobs.get_job(job_id)
    assert record["input"]["callback_url"] == HOOK
    assert record["webhook"] == {"status": "pending", "attempts": 0, "key": _identity(KEY)}
    assert _outbox_score(job_id) == math.inf  # not due while the job runs

    shown = on.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": KEY}).get_json()  # a keyed job: read with its key
    assert shown["webhook"] == {"status": "pending", "attempts": 0}
    conforms(shown, "Job")

    jobs.fail(job_id, {"type": "test", "detail": "ended"})
    assert _outbox_score(job_id) == pytest.approx(jobs.get_job(job_id)["updated_at"])
    sent = []
    assert job_id in outbox.drain_outbox(sent.append)
    assert job_id in sent and _outbox_score(job_id) is None


def test_hotel_prices_take_a_callback_too(make_app, recorder):
    client = make_app(**ON, HOTEL_SYNC_WAIT_S="0").test_client()
    response = client.post("/v1/hotel-prices", json=hotel_stay(), query_string={"callback_url": HOOK},
                           headers={"X-API-Key": KEY})
    assert response.status_code == 202, response.get_data(as_text=True)
    record = jobs.get_job(response.get_json()["job_id"])
    assert record["input"]["callback_url"] == HOOK and record["webhook"]["key"] == _identity(KEY)
    assert "callback_url" not in recorder.only().kwargs["request"]


def test_a_job_the_watchdog_fails_has_its_webhook_due(redis_server):
    job_id = jobs.create_job("echo", "single", callback_url=HOOK, callback_key="key:x")
    deadline = redis_client().zscore(key("deadlines"), job_id)
    assert job_id in deadlines.fail_overdue_jobs(now=deadline + 1)
    assert _outbox_score(job_id) == pytest.approx(jobs.get_job(job_id)["updated_at"])


def test_a_job_without_a_callback_never_enters_the_outbox(redis_server):
    job_id = jobs.create_job("echo", "single")
    jobs.succeed(job_id, {"echo": 1})
    assert _outbox_score(job_id) is None


def test_a_job_the_broker_refused_sends_no_webhook(on, recorder, clip):
    recorder.down = True
    response = upload(on, clip, "", query_string={"callback_url": HOOK}, headers={"X-API-Key": KEY})
    problem(response, 503, "broker-unavailable")
    job_id = recorder.refused[0].task_id
    assert jobs.get_job(job_id)["status"] == "failed" and _outbox_score(job_id) is None


# --- GET /v1/webhook-secret ---------------------------------------------------------------------------------


def test_each_key_reads_its_own_secret(on):
    mine = on.get("/v1/webhook-secret", headers={"X-API-Key": KEY})
    assert mine.status_code == 200 and mine.headers["Cache-Control"] == "no-store"
    conforms(mine.get_json(), "WebhookSecret")
    secret = mine.get_json()["secret"]
    assert secret == signing.signing_secret(ON["WEBHOOK_SIGNING_SECRET"], _identity(KEY))
    other = on.get("/v1/webhook-secret", headers={"Authorization": f"Bearer {OTHER_KEY}"}).get_json()["secret"]
    assert other != secret and ON["WEBHOOK_SIGNING_SECRET"] not in secret
    problem(on.get("/v1/webhook-secret"), 401, "api-key-required")
    problem(on.get("/v1/webhook-secret", headers={"X-API-Key": "forged"}), 401, "invalid-api-key")


def test_no_secret_without_a_signing_secret(client):
    problem(client.get("/v1/webhook-secret", headers={"X-API-Key": KEY}), 404, "webhooks-disabled")


# --- one delivery attempt (a stand-in for the HTTP POST) ------------------------------------------------------


class FakeReceiver:
    """Answers each POST with the next of `statuses` and keeps what it was sent."""

    def __init__(self, *statuses: int):
        self.statuses, self.received = list(statuses), []

    def __call__(self, destination, body, headers, timeout_s):
        self.received.append((destination, body, headers))
        return self.statuses.pop(0), None


def _ended_job(status: str = jobs.SUCCEEDED, url: str = HOOK) -> str:
    job_id = jobs.create_job("echo", "single", callback_url=url, callback_key=_identity(KEY))
    if status == jobs.SUCCEEDED:
        jobs.succeed(job_id, {"echo": "hi"})
    else:
        jobs.fail(job_id, {"type": "test", "detail": "boom"})
    return job_id


def _public(host, port, type=0):
    return [(2, 1, 6, "", ("93.184.216.34", port))]


def _attempt(job_id, receiver, **overrides):
    s = settings_with(**ON, WEBHOOK_BACKOFF_S="1", WEBHOOK_MAX_ATTEMPTS="3", **overrides)
    return delivery.attempt_delivery(job_id, s, resolve=_public, send=receiver)


def test_a_delivery_is_the_signed_job_body_and_is_recorded(redis_server):
    job_id, receiver = _ended_job(), FakeReceiver(204)
    assert _attempt(job_id, receiver) == delivery.Attempt("delivered")
    destination, body, headers = receiver.received[0]
    assert (destination.address, destination.host, destination.target) == ("93.184.216.34", "hooks.example.com", "/brigade?team=7")
    record = jobs.get_job(job_id)
    assert json.loads(body) == job_body.render(record)  # updated_at too: the delivery state does not touch it
    secret = signing.signing_secret(ON["WEBHOOK_SIGNING_SECRET"], _identity(KEY))
    assert signing.verify(secret, headers["X-Brigade-Timestamp"], body, headers["X-Brigade-Signature"])
    assert headers["X-Brigade-Event"] == "job.succeeded" and headers["X-Brigade-Job"] == job_id
    assert record["webhook"]["status"] == "delivered" and record["webhook"]["attempts"] == 1
    assert _attempt(job_id, FakeReceiver(200)) == delivery.Attempt("skipped")  # a duplicate task


def test_5xx_is_retried_with_backoff_until_the_attempts_run_out(redis_server):
    job_id, receiver = _ended_job(jobs.FAILED), FakeReceiver(500, 503, 502)
    assert _attempt(job_id, receiver) == delivery.Attempt("retrying", 1.0)
    assert _attempt(job_id, receiver) == delivery.Attempt("retrying", 2.0)
    assert _attempt(job_id, receiver) == delivery.Attempt("failed")
    state = jobs.get_job(job_id)["webhook"]
    assert (state["status"], state["attempts"], state["last_status_code"]) == ("failed", 3, 502)
    assert "502" in state["last_error"]
    assert [h["X-Brigade-Attempt"] for _, _, h in receiver.received] == ["1", "2", "3"]
    assert receiver.received[0][2]["X-Brigade-Event"] == "job.failed"


@pytest.mark.parametrize("status, outcome", [(404, "failed"), (301, "failed"), (408, "retrying"), (429, "retrying")])
def test_4xx_gives_up_except_408_and_429(redis_server, status, outcome):
    assert _attempt(_ended_job(), FakeReceiver(status)).status == outcome


def test_a_network_error_is_retried_and_an_inside_address_given_up(redis_server):
    def refused(*_):
        raise ConnectionRefusedError("connection refused")

    job_id = _ended_job()
    assert _attempt(job_id, refused).status == "retrying"
    assert "ConnectionRefusedError" in jobs.get_job(job_id)["webhook"]["last_error"]

    job_id = _ended_job()
    s = settings_with(WEBHOOK_ALLOWED_HOSTS="*.example.com", WEBHOOK_SIGNING_SECRET="m")
    outcome = delivery.attempt_delivery(job_id, s, resolve=lambda *a, **k: [(2, 1, 6, "", ("10.0.0.7", 443))],
                                        send=FakeReceiver(200))
    assert outcome == delivery.Attempt("failed")
    assert "10.0.0.7" in jobs.get_job(job_id)["webhook"]["last_error"]


def test_the_outbox_keeps_what_could_not_be_sent(redis_server):
    job_id = _ended_job()

    def broker_down(_):
        raise ConnectionError("broker away")

    due = _outbox_score(job_id)  # when the job ended: the outbox's clock, not this machine's
    assert outbox.drain_outbox(broker_down, now=due + 1) == []
    assert _outbox_score(job_id) is not None
    assert job_id in outbox.drain_outbox(lambda _: None, now=due + 1)


def test_a_late_result_neither_overwrites_an_ended_job_nor_sends_a_second_webhook(redis_server):
    job_id = _ended_job(jobs.FAILED)  # e.g. the watchdog's deadline, then a cut-off worker finished after all
    assert _attempt(job_id, FakeReceiver(200)).status == "delivered"
    after_delivery = _outbox_score(job_id)
    assert jobs.succeed(job_id, {"echo": "late"}) is False
    record = jobs.get_job(job_id)
    assert record["status"] == jobs.FAILED and record["error"]["detail"] == "boom" and "result" not in record
    assert _outbox_score(job_id) == after_delivery  # not made due again
    assert record["webhook"]["attempts"] == 1
