"""Validation of POST /v1/hotel-prices bodies, before any job exists.

Pure Python on purpose: it reads the hotel catalog (`models.hotel.catalog`, no torch, no numpy),
so the API refuses a bad request in microseconds and never queues work a worker would reject.

Status codes:

* 415 `unsupported-media-type`: the body is not declared as JSON (`Content-Type: application/json`).
* 413 `body-too-large`: over MAX_BODY_BYTES (a hotel query is a few hundred bytes).
* 400 `malformed-json`: the bytes are not JSON at all (syntax error, not UTF-8, NaN/Infinity).
  A request that cannot even be parsed is a bad request; 422 is kept for JSON that parses but
  says something we cannot serve, so a client can tell "my serializer is broken" from "my
  input is wrong".
* 422 for everything else, as a JSON problem whose `type` is the first error's code and whose
  `errors` list names every problem found (field, code, detail): `invalid-body` (not an object),
  `missing-field`, `unknown-field`, `wrong-type`, `invalid-date`, `unknown-destination` (with
  `known_destinations`), `dates-out-of-order`, `date-in-the-past`, `too-far-ahead`,
  `stay-too-long` (over `catalog.MAX_NIGHTS` = 30 nights), `guests-out-of-range`,
  `invalid-budget`.

"Today" is the UTC date, with one day of grace for clients west of UTC (for whom it may still be
yesterday): a check-in on UTC-yesterday is accepted and priced with a lead time of 0.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from app import json_body
from app.errors import ApiError
from models.hotel import catalog

MAX_BODY_BYTES = 16 * 1024
MAX_BUDGET = 1e9  # USD for a whole stay: beyond it a number is a mistake (or an attack on float())
MAX_LEAD_DAYS = 730  # check-ins at most two years ahead
PAST_GRACE_DAYS = 1
REQUIRED = ("destination", "check_in", "check_out", "guests")
OPTIONAL = ("budget",)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class StayRequest:
    destination: str
    check_in: date
    check_out: date
    guests: int
    budget: float | None
    today: date  # the reference date the lead time is counted from

    @property
    def nights(self) -> int:
        return (self.check_out - self.check_in).days

    def message(self) -> dict:
        """JSON-safe form, as the task receives it."""
        return {"destination": self.destination, "check_in": self.check_in.isoformat(),
                "check_out": self.check_out.isoformat(), "guests": self.guests, "budget": self.budget,
                "today": self.today.isoformat()}


def utc_today() -> date:
    return datetime.now(UTC).date()


def read_json_body(request) -> object:
    """The parsed JSON body of a hotel query (app.json_body: 415, 413 over MAX_BODY_BYTES, 400)."""
    return json_body.read_json_body(request, MAX_BODY_BYTES)


class _Errors:
    def __init__(self):
        self.items: list[dict] = []
        self.extra: dict = {}

    def add(self, field: str | None, code: str, detail: str, **extra) -> None:
        self.items.append({"field": field, "code": code, "detail": detail})
        self.extra.update(extra)

    def raise_if_any(self) -> None:
        if self.items:
            first = self.items[0]
            detail = "; ".join(e["detail"] for e in self.items)
            raise ApiError(422, first["code"], detail, errors=self.items, **self.extra)


def _parse_date(value, field: str, errors: _Errors) -> date | None:
    if not isinstance(value, str):
        errors.add(field, "wrong-type", f"{field} must be a date string YYYY-MM-DD, got {type(value).__name__}")
        return None
    if not _ISO_DATE.match(value):
        errors.add(field, "invalid-date", f"{field} {value[:40]!r} is not a date in the form YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.add(field, "invalid-date", f"{field} {value!r} is not a calendar date")
        return None


def validate(body: object, today: date | None = None) -> StayRequest:
    """A StayRequest, or ApiError(422) listing every problem found."""
    today = today or utc_today()
    errors = _Errors()
    if not isinstance(body, dict):
        errors.add(None, "invalid-body", f"the body must be a JSON object with {', '.join(REQUIRED)} "
                   f"(and optionally budget), got a JSON {type(body).__name__}")
        errors.raise_if_any()
    for name in REQUIRED:
        if body.get(name) is None:
            errors.add(name, "missing-field", f"{name} is required")
    destination = body.get("destination")
    if destination is not None:
        if not isinstance(destination, str):
            errors.add("destination", "wrong-type", f"destination must be a string, got {type(destination).__name__}")
            destination = None
        else:
            try:
                destination = catalog.normalize_destination(destination)
            except ValueError:
                known = catalog.known_destinations()
                errors.add("destination", "unknown-destination",
                           f"unknown destination {destination[:60]!r}; known destinations: {', '.join(known)}",
                           known_destinations=known)
                destination = None

    check_in = _parse_date(body["check_in"], "check_in", errors) if body.get("check_in") is not None else None
    check_out = _parse_date(body["check_out"], "check_out", errors) if body.get("check_out") is not None else None
    if check_in and check_out:
        nights = (check_out - check_in).days
        if nights < 1:
            errors.add("check_out", "dates-out-of-order", f"check_out ({check_out}) must be after check_in ({check_in})")
        elif nights > catalog.MAX_NIGHTS:
            errors.add("check_out", "stay-too-long",
                       f"stays are limited to {catalog.MAX_NIGHTS} nights; {check_in} to {check_out} is {nights}",
                       max_nights=catalog.MAX_NIGHTS)
    if check_in:
        if check_in < today - timedelta(days=PAST_GRACE_DAYS):
            errors.add("check_in", "date-in-the-past", f"check_in ({check_in}) is in the past (today is {today}, UTC)")
        elif check_in > today + timedelta(days=MAX_LEAD_DAYS):
            errors.add("check_in", "too-far-ahead", f"check_in ({check_in}) is more than {MAX_LEAD_DAYS} days ahead")

    guests = body.get("guests")
    if guests is not None:
        if isinstance(guests, bool) or not isinstance(guests, int):
            errors.add("guests", "wrong-type", f"guests must be an integer, got {json.dumps(guests)[:40]}")
            guests = None
        elif not 1 <= guests <= catalog.MAX_GUESTS:
            errors.add("guests", "guests-out-of-range", f"guests must be between 1 and {catalog.MAX_GUESTS} (one room), got {guests}",
                       max_guests=catalog.MAX_GUESTS)
            guests = None

    budget = body.get("budget")
    if budget is not None:
        # The bound before isfinite: a 400-digit integer does not convert to a float at all.
        if (isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 <= budget <= MAX_BUDGET
                or not math.isfinite(budget)):
            errors.add("budget", "invalid-budget", f"budget (USD for the whole stay) must be a number from 0 to "
                       f"{MAX_BUDGET:g} or null, got {json.dumps(budget)[:40]}", max_budget=MAX_BUDGET)
            budget = None
        else:
            budget = float(budget)

    for name in sorted(set(body) - set(REQUIRED) - set(OPTIONAL)):  # last: a typo shows up next to its missing field
        errors.add(str(name)[:40], "unknown-field", f"unknown field {str(name)[:40]!r}; fields are "
                   f"{', '.join(REQUIRED + OPTIONAL)}")
    errors.raise_if_any()
    return StayRequest(destination, check_in, check_out, guests, budget, today=min(today, check_in))
