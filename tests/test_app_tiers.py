"""API keys and rate limits in this process (the app layer, tests/appkit.py), with the limits of
the app's own settings: an unknown key is a 401 that counts and sends nothing, a used-up budget a
429 with Retry-After, one budget for every endpoint that sends work, and reads are free. (Two API
processes sharing the count: tests/test_tiers.py.)"""

from __future__ import annotations

import uuid

import pytest

from brigade import jobs
from tests.appkit import problem
from tests.stack import hotel_stay


@pytest.fixture
def strict(make_app):
    """An app whose authenticated key (fresh for each test, so its count starts at 0) may send
    2 work requests a minute, and whose anonymous callers 1; it answers hotel queries at once."""
    key = f"app-tier-{uuid.uuid4().hex}"
    app = make_app(API_KEYS=f"{key}:authenticated", RATE_LIMIT_AUTHENTICATED="2/minute",
                   RATE_LIMIT_ANONYMOUS="1/minute", HOTEL_SYNC_WAIT_S="0")
    return app.test_client(), key


def _post(client, path="/v1/hotel-prices", key=None, **kwargs):
    kwargs.setdefault("json", hotel_stay())
    return client.post(path, headers={"X-API-Key": key} if key else {}, **kwargs)


@pytest.mark.parametrize("headers", [{"X-API-Key": "not-a-key"}, {"Authorization": "Bearer not-a-key"}, {"X-API-Key": " "}])
def test_an_unknown_or_empty_key_is_a_401_that_sends_nothing(client, recorder, no_job_created, headers):
    response = client.post("/v1/hotel-prices", json=hotel_stay(), headers=headers)
    problem(response, 401, "invalid-api-key")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "X-RateLimit-Remaining" not in response.headers
    assert recorder.sent == []


def test_a_used_up_budget_is_a_429_with_retry_after_on_every_work_endpoint(strict, recorder):
    client, key = strict
    accepted = [_post(client, key=key) for _ in range(2)]
    assert [r.status_code for r in accepted] == [202, 202]
    assert [r.headers["X-RateLimit-Remaining"] for r in accepted] == ["1", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "2" and "Retry-After" not in r.headers for r in accepted)

    for path, kwargs in [("/v1/hotel-prices", {}), ("/v1/echo", {"json": {"payload": 1}}),
                         ("/v1/videos", {"json": None, "data": b"x", "content_type": "video/mp4"})]:
        refused = _post(client, path, key=key, **kwargs)
        body = problem(refused, 429, "rate-limited")
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 60 and body["retry_after_s"] == retry_after
        assert body["tier"] == "authenticated" and "2 per 1 minute" in body["limit"]
        assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert len(recorder.sent) == 2  # the refused requests sent nothing

    # reads are not limited: the accepted jobs can still be polled
    job_id = accepted[0].get_json()["job_id"]
    assert client.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": key}).get_json()["status"] == "queued"
    assert jobs.get_job(job_id)["status"] == "queued"


def test_anonymous_callers_are_counted_by_address_and_told_about_keys(strict):
    client, _ = strict
    here, there = {"REMOTE_ADDR": "198.51.100.1"}, {"REMOTE_ADDR": "198.51.100.2"}  # no other test calls from these
    assert _post(client, environ_base=here).status_code == 202
    body = problem(_post(client, environ_base=here), 429, "rate-limited")
    assert body["tier"] == "anonymous" and "API key" in body["detail"]
    assert _post(client, environ_base=there).status_code == 202  # another address, another budget

