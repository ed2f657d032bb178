"""Tiers and rate limits: API keys map to tiers (compared in constant time), each tier's budget of
work requests is enforced with 429 + Retry-After, and the count is shared by two API processes.

The suite's own API runs with a raised anonymous limit (tests/conftest.py); the two APIs here run
with the strict defaults, on their own Redis database so that their counts, jobs and queued
messages touch nothing else.
"""

from __future__ import annotations

import hmac
import itertools
import os
from dataclasses import fields

import pytest
import requests

from app import tiers
from brigade.settings import Settings
from devtools import procs
from tests.appkit import problem
from tests.stack import hotel_stay

DEFAULTS = {f.name: f.default for f in fields(Settings)}
PREMIUM, AUTHENTICATED = "tier-test-premium", "tier-test-authenticated"
BODY = hotel_stay(days_ahead=60, nights=2, destination="tokyo")


# --- keys and tiers, in-process -------------------------------------------------------------------------


@pytest.mark.unit
def test_keys_parse_from_commas_lines_and_comments():
    entries = tiers.parse_keys("a1:premium, b2:authenticated\n# a comment\nc:3:premium  # key with a colon\n\n")
    assert [tier for _, tier, _ in entries] == ["premium", "authenticated", "premium"]
    assert all(key_id.startswith("key:") and len(key_id) == 20 for _, _, key_id in entries)
    assert "a1" not in repr(entries)  # only digests are kept


@pytest.mark.unit
@pytest.mark.parametrize("text, match", [("k1:gold", "tier 'gold'"), ("just-a-key", "not `key:tier`"), (":premium", "not")])
def test_a_bad_key_entry_is_a_configuration_error(text, match):
    with pytest.raises(ValueError, match=match):
        tiers.parse_keys(text)


@pytest.mark.unit
def test_lookup_compares_every_key_in_constant_time(monkeypatch, tmp_path):
    keys_file = tmp_path / "keys"
    keys_file.write_text("file-key:authenticated\n")
    table = tiers.KeyTable(Settings.from_env({"API_KEYS": "k1:premium,k2:authenticated", "API_KEYS_FILE": str(keys_file)}))
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(tiers.hmac, "compare_digest", lambda a, b: calls.append(len(a)) or real(a, b))
    assert table.lookup("k1")[0] == "premium"
    assert calls == [32, 32, 32]  # all three keys compared, as fixed-length digests, though the first matched
    assert table.lookup("file-key")[0] == "authenticated"
    assert table.lookup("k3") is None and table.lookup("k") is None
    keys_file.write_text("file-key:premium\nnew-key:authenticated\n")
    os.utime(keys_file, (1, 1))  # a new mtime: the file is read again
    assert table.lookup("file-key")[0] == "premium" and table.lookup("new-key")[0] == "authenticated"


@pytest.mark.unit
def test_priorities_follow_the_tiers_on_both_brokers():
    from kombu.transport.redis import Channel

    redis = {t: tiers.priority_for(t, "redis://x/0") for t in tiers.TIERS}
    assert redis["premium"] < redis["authenticated"] < redis["anonymous"]  # Redis serves 0 first
    # each tier lands on its own priority list (kombu's steps 0, 3, 6, 9)
    steps = {t: Channel.priority(type("C", (), {"priority_steps": [0, 3, 6, 9]})(), p) for t, p in redis.items()}
    assert len(set(steps.values())) == 3
    amqp = {t: tiers.priority_for(t, "amqp://guest@x//") for t in tiers.TIERS}
    assert amqp["premium"] > amqp["authenticated"] > amqp["anonymous"]  # RabbitMQ serves 9 first


# --- two API processes, strict default limits -------------------------------------------------------------


@pytest.fixture(scope="module")
def two_apis(stack):
    env = {
        "REDIS_URL": os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/1",
        "RATE_LIMIT_ANONYMOUS": DEFAULTS["RATE_LIMIT_ANONYMOUS"],
        "RATE_LIMIT_AUTHENTICATED": DEFAULTS["RATE_LIMIT_AUTHENTICATED"],
        "RATE_LIMIT_PREMIUM": DEFAULTS["RATE_LIMIT_PREMIUM"],
        "API_KEYS": f"{PREMIUM}:premium,{AUTHENTICATED}:authenticated",
        "HOTEL_SYNC_WAIT_S": "0",  # no worker here: answer 202 at once
    }
    assert env["RATE_LIMIT_ANONYMOUS"] == "10/hour;3/minute" and env["RATE_LIMIT_AUTHENTICATED"] == "100/hour;20/minute"
    apis = stack.start_api(env=env, workers=1), stack.start_api(env=env, workers=1)
    started = stack.procs[-2:]
    yield apis
    for proc in started:
        procs.stop(proc)


def _alternate(apis):
    return itertools.cycle(apis)


def _post(api, path="/v1/hotel-prices", key=None, headers=None, **kwargs):
    headers = {**(headers or {}), **({"X-API-Key": key} if key else {})}
    kwargs.setdefault("json", BODY)
    return requests.post(f"{api}{path}", headers=headers, timeout=30, **kwargs)


def _assert_429(response: requests.Response, tier: str) -> dict:
    body = problem(response, 429, "rate-limited")
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert body["tier"] == tier and body["retry_after_s"] == retry_after
    return body


def test_anonymous_burst_of_3_per_minute_is_shared_by_two_apis_and_every_work_endpoint(two_apis):
    apis = _alternate(two_apis)
    accepted = [_post(next(apis)) for _ in range(3)]
    assert [r.status_code for r in accepted] == [202] * 3, [r.text for r in accepted]
    assert [r.headers["X-RateLimit-Remaining"] for r in accepted] == ["2", "1", "0"]
    assert all(r.headers["X-RateLimit-Limit"] == "3" and "Retry-After" not in r.headers for r in accepted)

    body = _assert_429(_post(next(apis)), "anonymous")
    assert "3 per 1 minute" in body["limit"] and "API key" in body["detail"]
    # one budget for every endpoint that enqueues work, on either API
    _assert_429(_post(next(apis), "/v1/echo", json={"payload": 1}), "anonymous")
    _assert_429(_post(next(apis), "/v1/videos", data=b"x", json=None, headers={"Content-Type": "video/mp4"}), "anonymous")
    # reads are not limited: the accepted jobs can still be polled
    job = accepted[0].json()
    assert requests.get(f"{two_apis[1]}{job['status_url']}", timeout=30).json()["status"] == "queued"


def test_authenticated_keys_get_20_per_minute_counted_across_both_apis(two_apis):
    apis = _alternate(two_apis)
    statuses = [_post(next(apis), key=AUTHENTICATED).status_code for _ in range(20)]
    assert statuses == [202] * 20
    body = _assert_429(_post(next(apis), key=AUTHENTICATED), "authenticated")
    assert "20 per 1 minute" in body["limit"]
    # another tier, another budget; Bearer works as well as X-API-Key
    premium = requests.post(f"{two_apis[0]}/v1/hotel-prices", json=BODY, headers={"Authorization": f"Bearer {PREMIUM}"}, timeout=30)
    assert premium.status_code == 202 and premium.json()["tier"] == "premium"
    assert premium.headers["X-RateLimit-Limit"] == "100"


def test_an_unknown_key_is_refused_before_it_costs_anything(two_apis):
    before = _post(two_apis[0], key=PREMIUM).headers["X-RateLimit-Remaining"]
    refused = _post(two_apis[1], key="forged-key")
    problem(refused, 401, "invalid-api-key")
    assert "X-RateLimit-Remaining" not in refused.headers
    after = _post(two_apis[0], key=PREMIUM).headers["X-RateLimit-Remaining"]
    assert int(before) - int(after) == 1  # only the second premium request counted


# --- client addresses behind a reverse proxy ---------------------------------------------------------------


@pytest.mark.parametrize("hops, database", [(1, 2), (0, 3)])
def test_forwarded_client_addresses_count_only_behind_a_trusted_proxy(stack, hops, database):
    env = {"REDIS_URL": os.environ["REDIS_URL"].rsplit("/", 1)[0] + f"/{database}", "TRUSTED_PROXY_HOPS": str(hops),
           "RATE_LIMIT_ANONYMOUS": DEFAULTS["RATE_LIMIT_ANONYMOUS"], "HOTEL_SYNC_WAIT_S": "0"}
    api = stack.start_api(env=env, workers=1)
    try:
        statuses = [_post(api, headers={"X-Forwarded-For": "203.0.113.1"}).status_code for _ in range(4)]
        assert statuses == [202, 202, 202, 429]
        # another address in the header: another client behind the proxy, or a forgery without one
        other = _post(api, headers={"X-Forwarded-For": "203.0.113.2"})
        assert other.status_code == (202 if hops else 429), other.text
    finally:
        procs.stop(stack.procs[-1])
