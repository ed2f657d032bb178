"""Bad requests in this process (the app layer): each is a 4xx JSON problem that /openapi.json
documents, creates no job, sends nothing and costs a bounded read, never a 500."""

from __future__ import annotations

import json

import pytest

from app.json_body import MAX_DEPTH, nesting_depth
from tests.appkit import problem
from tests.stack import hotel_stay

STAY = hotel_stay(days_ahead=10, nights=2)  # dated from today: a fixed date would pass into the past


def _json(client, path: str, raw: str):
    return client.post(path, data=raw, content_type="application/json")


@pytest.mark.parametrize("raw, code", [("[1, 2]", "invalid-body"), ('"payload"', "invalid-body"), ("7", "invalid-body"),
                                       ('{"payload": 1, "extra": 2}', "unknown-field")])
def test_an_echo_body_that_is_not_an_object_of_payload_is_a_422(client, recorder, no_job_created, raw, code):
    problem(_json(client, "/v1/echo", raw), 422, code)
    assert recorder.sent == []


def test_an_echo_body_over_its_limit_is_a_413_before_it_reaches_the_broker(client, recorder, no_job_created):
    body = problem(client.post("/v1/echo", json={"payload": "x" * (8 << 20)}), 413, "body-too-large")
    assert body["limit_bytes"] == 4096 and recorder.sent == []


@pytest.mark.parametrize("path", ["/v1/echo", "/v1/hotel-prices"])
def test_deeply_nested_json_is_a_400_not_a_500(client, recorder, no_job_created, path):
    depth = 2000  # fits both endpoints' byte limits, and past the parser's recursion had it not been scanned first
    raw = '{"payload": ' + "[" * depth + "]" * depth + "}"
    assert len(raw) <= 4096
    assert "nests" in problem(_json(client, path, raw), 400, "malformed-json")["detail"]
    assert recorder.sent == []


@pytest.mark.parametrize("budget", ["1" + "0" * 400, "1e400", "-5", "1e10"])
def test_a_budget_out_of_range_is_a_422_even_when_it_does_not_fit_a_float(client, no_job_created, budget):
    raw = json.dumps(STAY)[:-1] + f', "budget": {budget}}}'
    problem(_json(client, "/v1/hotel-prices", raw), 422, "invalid-budget")


def test_a_hotel_query_that_is_not_json_is_a_415_or_413_as_documented(client, no_job_created):
    problem(client.post("/v1/hotel-prices", data="destination=paris", content_type="application/x-www-form-urlencoded"),
            415, "unsupported-media-type")
    problem(_json(client, "/v1/hotel-prices", json.dumps({**STAY, "x": "y" * 20000})), 413, "body-too-large")


@pytest.mark.parametrize("wait", ["nan", "-1", "soon", "inf"])
def test_a_bad_wait_on_a_job_is_a_400(client, wait):
    from brigade import jobs

    job_id = jobs.create_job("echo", "single")
    problem(client.get(f"/v1/jobs/{job_id}?wait={wait}"), 400, "invalid-parameter")


def test_the_nesting_scan_ignores_brackets_inside_strings():
    assert nesting_depth(b'{"a": "[[[[[[[[", "b": [1, {"c": "\\\\"}]}') == 3
    assert nesting_depth(b'"\\"[[["') == 0
    assert nesting_depth(("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).encode()) == MAX_DEPTH + 1
