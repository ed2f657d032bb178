"""Validation of POST /v1/hotel-prices bodies, before any job exists.

The checks are the model's own (`models.hotel.stay`, pure Python: the catalog, no torch, no
numpy), so the API refuses in microseconds, in the words a worker would use, and never queues
work a worker would reject. Here they become HTTP answers:

* 415 `unsupported-media-type`: the body is not declared as JSON (`Content-Type: application/json`).
* 413 `body-too-large`: over MAX_BODY_BYTES (a hotel query is a few hundred bytes).
* 400 `malformed-json`: the bytes are not JSON at all (syntax error, not UTF-8, NaN/Infinity).
  A request that cannot even be parsed is a bad request; 422 is kept for JSON that parses but
  says something we cannot serve, so a client can tell "my serializer is broken" from "my
  input is wrong".
* 422 for everything else, as a JSON problem whose `type` is the first error's code and whose
  `errors` list names every problem found (field, code, detail): the codes of `models.hotel.stay`.
"""

from __future__ import annotations

from datetime import date

from app import json_body
from app.errors import ApiError
from models.hotel.stay import InvalidStay, StayRequest, check_stay

MAX_BODY_BYTES = 16 * 1024


def read_json_body(request) -> object:
    """The parsed JSON body of a hotel query (app.json_body: 415, 413 over MAX_BODY_BYTES, 400)."""
    return json_body.read_json_body(request, MAX_BODY_BYTES)


def validate(body: object, today: date | None = None) -> StayRequest:
    """A StayRequest, or ApiError(422) listing every problem found (`models.hotel.stay.check_stay`)."""
    try:
        return check_stay(body, today)
    except InvalidStay as exc:
        raise ApiError(422, exc.code, str(exc), errors=exc.problems, **exc.extra) from exc
