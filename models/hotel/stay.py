"""What makes a hotel stay request valid: one set of checks, in pure Python (the catalog; no torch,
no numpy), run by the API on a body before any job exists (`app/hotel_validation.py`) and by the
model's preprocess on what a worker is sent (`models/hotel/artifact.py`), so both refuse a stay
for the same reasons in the same words.

Every problem found is listed (field, code, detail); the codes are the API's problem types:
`invalid-body` (not an object), `missing-field`, `unknown-field`, `wrong-type`, `invalid-date`,
`unknown-destination` (with `known_destinations`), `dates-out-of-order`, `date-in-the-past`,
`too-far-ahead`, `stay-too-long` (over `catalog.MAX_NIGHTS` = 30 nights), `guests-out-of-range`,
`invalid-budget`.

"Today" is the UTC date, with one day of grace for clients west of UTC (for whom it may still be
yesterday): a check-in on UTC-yesterday is accepted and priced with a lead time of 0.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from models.hotel import catalog

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

    @property
    def lead_days(self) -> int:
        return (self.check_in - self.today).days

    def message(self) -> dict:
        """JSON-safe form, as the task receives it."""
        return {"destination": self.destination, "check_in": self.check_in.isoformat(),
                "check_out": self.check_out.isoformat(), "guests": self.guests, "budget": self.budget,
                "today": self.today.isoformat()}


class InvalidStay(ValueError):
    """The stay cannot be priced: `problems` lists each (field, code, detail); `code` is the
    first one's; `extra` holds what a client may act on (the known destinations, the limits)."""

    def __init__(self, problems: list[dict], extra: dict):
        super().__init__("; ".join(p["detail"] for p in problems))
        self.problems, self.extra = problems, extra

    @property
    def code(self) -> str:
        return self.problems[0]["code"]


class _Problems:
    def __init__(self):
        self.items: list[dict] = []
        self.extra: dict = {}

    def add(self, field: str | None, code: str, detail: str, **extra) -> None:
        self.items.append({"field": field, "code": code, "detail": detail})
        self.extra.update(extra)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidStay(self.items, self.extra)


def utc_today() -> date:
    return datetime.now(UTC).date()


def check_stay(body: object, today: date | None = None) -> StayRequest:
    """The StayRequest `body` asks for (JSON values; dates may also be date objects), or
    InvalidStay listing every problem found. `today` defaults to the UTC date."""
    today = today or utc_today()
    problems = _Problems()
    if not isinstance(body, dict):
        problems.add(None, "invalid-body", f"the body must be a JSON object with {', '.join(REQUIRED)} "
                     f"(and optionally budget), got a JSON {type(body).__name__}")
        problems.raise_if_any()
    for name in REQUIRED:
        if body.get(name) is None:
            problems.add(name, "missing-field", f"{name} is required")
    destination = _destination(body.get("destination"), problems)
    check_in, check_out = _stay_dates(body, today, problems)
    guests = _guests(body.get("guests"), problems)
    budget = _budget(body.get("budget"), problems)
    for name in sorted(set(body) - set(REQUIRED) - set(OPTIONAL)):  # last: a typo shows up next to its missing field
        problems.add(str(name)[:40], "unknown-field", f"unknown field {str(name)[:40]!r}; fields are "
                     f"{', '.join(REQUIRED + OPTIONAL)}")
    problems.raise_if_any()
    return StayRequest(destination, check_in, check_out, guests, budget, today=min(today, check_in))


def reference_date(value) -> date:
    """The `today` a worker's message counts the lead time from (ISO, or a date), or InvalidStay."""
    problems = _Problems()
    day = _parse_date(value, "today", problems)
    problems.raise_if_any()
    return day


def _destination(value, problems: _Problems) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        problems.add("destination", "wrong-type", f"destination must be a string, got {type(value).__name__}")
        return None
    try:
        return catalog.normalize_destination(value)
    except ValueError:
        known = catalog.known_destinations()
        problems.add("destination", "unknown-destination",
                     f"unknown destination {value[:60]!r}; known destinations: {', '.join(known)}",
                     known_destinations=known)
        return None


def _parse_date(value, field: str, problems: _Problems) -> date | None:
    """A date from its ISO form (YYYY-MM-DD; a date object as it is), else None and a problem."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        problems.add(field, "wrong-type", f"{field} must be a date string YYYY-MM-DD, got {type(value).__name__}")
        return None
    if not _ISO_DATE.match(value):
        problems.add(field, "invalid-date", f"{field} {value[:40]!r} is not a date in the form YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.add(field, "invalid-date", f"{field} {value!r} is not a calendar date")
        return None


def _stay_dates(body: dict, today: date, problems: _Problems) -> tuple[date | None, date | None]:
    check_in, check_out = (_parse_date(body[name], name, problems) if body.get(name) is not None else None
                           for name in ("check_in", "check_out"))
    if check_in and check_out:
        nights = (check_out - check_in).days
        if nights < 1:
            problems.add("check_out", "dates-out-of-order", f"check_out ({check_out}) must be after check_in ({check_in})")
        elif nights > catalog.MAX_NIGHTS:
            problems.add("check_out", "stay-too-long",
                         f"stays are limited to {catalog.MAX_NIGHTS} nights; {check_in} to {check_out} is {nights}",
                         max_nights=catalog.MAX_NIGHTS)
    if check_in:
        if check_in < today - timedelta(days=PAST_GRACE_DAYS):
            problems.add("check_in", "date-in-the-past", f"check_in ({check_in}) is in the past (today is {today}, UTC)")
        elif check_in > today + timedelta(days=MAX_LEAD_DAYS):
            problems.add("check_in", "too-far-ahead", f"check_in ({check_in}) is more than {MAX_LEAD_DAYS} days ahead")
    return check_in, check_out


def _guests(value, problems: _Problems) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        problems.add("guests", "wrong-type", f"guests must be an integer, got {_shown(value)}")
        return None
    if not 1 <= value <= catalog.MAX_GUESTS:
        problems.add("guests", "guests-out-of-range", f"guests must be between 1 and {catalog.MAX_GUESTS} (one room), got {value}",
                     max_guests=catalog.MAX_GUESTS)
        return None
    return int(value)


def _budget(value, problems: _Problems) -> float | None:
    if value is None:
        return None
    # The bound before isfinite: a 400-digit integer does not convert to a float at all.
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= MAX_BUDGET
            or not math.isfinite(value)):
        problems.add("budget", "invalid-budget", f"budget (USD for the whole stay) must be a number from 0 to "
                     f"{MAX_BUDGET:g} or null, got {_shown(value)}", max_budget=MAX_BUDGET)
        return None
    return float(value)


def _shown(value) -> str:
    """The value as a client wrote it (JSON), cut short; repr for what JSON cannot write."""
    try:
        return json.dumps(value)[:40]
    except (TypeError, ValueError):
        return repr(value)[:40]
