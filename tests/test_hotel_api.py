"""POST /v1/hotel-prices refuses bad queries with a JSON problem and creates no job: 422 for JSON
that parses but cannot be served, 400 for bytes that are not JSON, 415 for another content type.
Through the API in this process (the app layer, tests/appkit.py); the validation itself is also
checked at its boundaries (30 nights, today in UTC). What a valid query sends: test_app_hotels.py."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.errors import ApiError
from app.hotel_validation import validate
from models.hotel import catalog
from models.hotel.stay import MAX_LEAD_DAYS
from tests.appkit import problem

TODAY = date.today()


def _d(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def _body(**changes) -> dict:
    body = {"destination": "paris", "check_in": _d(40), "check_out": _d(43), "guests": 2, "budget": 900}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def _post(client, body=None, **kwargs):
    return client.post("/v1/hotel-prices", json=body, **kwargs)


@pytest.mark.parametrize("changes, code, field", [
    ({"destination": "atlantis"}, "unknown-destination", "destination"),
    ({"destination": 7}, "wrong-type", "destination"),
    ({"check_out": _d(40)}, "dates-out-of-order", "check_out"),
    ({"check_out": _d(38)}, "dates-out-of-order", "check_out"),
    ({"check_in": _d(-5), "check_out": _d(-2)}, "date-in-the-past", "check_in"),
    ({"check_out": _d(40 + 31)}, "stay-too-long", "check_out"),
    ({"check_in": _d(MAX_LEAD_DAYS + 5), "check_out": _d(MAX_LEAD_DAYS + 7)}, "too-far-ahead", "check_in"),
    ({"check_in": "2027-02-30"}, "invalid-date", "check_in"),
    ({"check_in": "01/03/2027"}, "invalid-date", "check_in"),
    ({"check_out": 20270301}, "wrong-type", "check_out"),
    ({"guests": 0}, "guests-out-of-range", "guests"),
    ({"guests": 7}, "guests-out-of-range", "guests"),
    ({"guests": "2"}, "wrong-type", "guests"),
    ({"guests": True}, "wrong-type", "guests"),
    ({"guests": 2.5}, "wrong-type", "guests"),
    ({"budget": -1}, "invalid-budget", "budget"),
    ({"budget": "lots"}, "invalid-budget", "budget"),
    ({"destination": ...}, "missing-field", "destination"),
    ({"check_in": ...}, "missing-field", "check_in"),
    ({"check_out": None}, "missing-field", "check_out"),
    ({"guests": ...}, "missing-field", "guests"),
    ({"nights": 3}, "unknown-field", "nights"),
])
def test_an_invalid_query_is_a_422_naming_the_field(client, no_job_created, changes, code, field):
    body = problem(_post(client, _body(**changes)), 422, code)
    assert {"field": field, "code": code} in [{k: e[k] for k in ("field", "code")} for e in body["errors"]]


def test_an_unknown_destination_lists_the_known_ones(client, no_job_created):
    body = problem(_post(client, _body(destination="Atlantis")), 422, "unknown-destination")
    assert body["known_destinations"] == catalog.known_destinations()
    assert "paris" in body["detail"] and "aspen" in body["detail"]


def test_every_problem_is_listed_at_once(client, no_job_created):
    body = problem(_post(client, {"destination": "atlantis", "check_in": _d(-9), "check_out": _d(60), "guests": 9, "x": 1}),
                   422, "unknown-destination")
    assert [e["code"] for e in body["errors"]] == ["unknown-destination", "stay-too-long", "date-in-the-past",
                                                   "guests-out-of-range", "unknown-field"]


def test_a_stay_over_30_nights_is_refused_with_the_limit(client, no_job_created):
    body = problem(_post(client, _body(check_out=_d(40 + 31))), 422, "stay-too-long")
    assert body["max_nights"] == 30 and "31" in body["detail"]


@pytest.mark.parametrize("data, status, code", [
    (b"{not json", 400, "malformed-json"),
    (b"", 400, "malformed-json"),
    (b'{"guests": NaN}', 400, "malformed-json"),
    (b"\xff\xfe{}", 400, "malformed-json"),
    (b"[1, 2]", 422, "invalid-body"),
    (b'"paris"', 422, "invalid-body"),
])
def test_a_body_that_is_not_a_json_object(client, no_job_created, data, status, code):
    response = client.post("/v1/hotel-prices", data=data, content_type="application/json")
    problem(response, status, code)


def test_a_form_body_is_a_415(client, no_job_created):
    response = client.post("/v1/hotel-prices", data={"destination": "paris"})
    problem(response, 415, "unsupported-media-type")


def test_a_huge_body_is_a_413(client, no_job_created):
    problem(_post(client, _body(destination="x" * 20000)), 413, "body-too-large")


def test_refusals_carry_the_rate_limit_headers_but_no_retry_after(client, no_job_created):
    response = _post(client, _body(guests=0))
    assert response.status_code == 422
    assert int(response.headers["X-RateLimit-Limit"]) > 0
    assert int(response.headers["X-RateLimit-Remaining"]) >= 0
    assert "X-RateLimit-Reset" in response.headers and "Retry-After" not in response.headers


# --- the validation in-process, at its boundaries -------------------------------------------------------


def _validate(**changes):
    return validate(_body(**changes), today=TODAY)


def test_30_nights_is_accepted_and_31_is_not():
    stay = _validate(check_in=_d(10), check_out=_d(40))
    assert stay.nights == 30 == catalog.MAX_NIGHTS
    with pytest.raises(ApiError) as refused:
        _validate(check_in=_d(10), check_out=_d(41))
    assert refused.value.code == "stay-too-long"


def test_destination_is_normalised_and_the_message_is_json_safe():
    stay = _validate(destination="  New-York ", budget=1200)
    assert stay.destination == "new-york" and stay.budget == 1200.0
    message = stay.message()
    assert message["check_in"] == _d(40) and message["today"] == TODAY.isoformat()


def test_yesterday_is_accepted_for_clients_west_of_utc_and_priced_from_the_check_in():
    stay = _validate(check_in=_d(-1), check_out=_d(2))
    assert stay.today == TODAY - timedelta(days=1)  # lead time 0, never negative
    with pytest.raises(ApiError):
        _validate(check_in=_d(-2), check_out=_d(2))


def test_budget_may_be_omitted_or_null():
    assert _validate(budget=...).budget is None
    assert _validate(budget=None).budget is None
