"""The arrival forecast of the predictive autoscaler (AUTOSCALE_PREDICTIVE): pure, so that it is
unit-tested on synthetic days, and small, so that it runs on every autoscaler tick.

The model (docs/EVENTS.md, "Predictive scaling"), for a queue, at time `now`, over the horizon H:

* `A_k`: the arrival rate over [now - kS, now - kS + H], what came next at this time k seasons ago
  (S: FORECAST_SEASON_S, a day by default), and `B_k`: the rate over the level window L (= H)
  before it, [now - kS - L, now - kS]; `A` and `B` their means over the last 1..SEASONS_BACK
  seasons that the history covers;
* `R`: the rate over the last L, the current level;
* trend `g = (R + c) / (B + c)`, clamped to [1/MAX_TREND, MAX_TREND], where `c` is
  PSEUDO_ARRIVALS spread over L (so that the Poisson noise of a quiet window's few dozen
  arrivals does not make a wild ratio, while a busy window's hundreds keep their trend);
* forecast `A × g`: the shape of past seasons, scaled by how busy today is against them at this
  time. Without one season of history: `R` (method "recent").

Rates are arrivals per second; the history is a list of (bucket start, count) (brigade/arrivals.py),
each bucket's arrivals taken as spread evenly over its span (the current one's up to `now`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

#: How many past seasons the forecast averages (the reads are bounded by it).
SEASONS_BACK = 3
#: The most the level of today may scale the seasonal profile, either way.
MAX_TREND = 4.0
#: Arrivals added to both sides of the trend ratio: a quiet level window's ratio stays near 1.
PSEUDO_ARRIVALS = 20.0
SEASONAL, RECENT = "seasonal+trend", "recent"


@dataclass(frozen=True)
class Forecast:
    rate: float  # arrivals/s expected over (now, now + horizon]
    method: str  # SEASONAL or RECENT (less than one season of history)
    recent_rate: float  # arrivals/s over the last level window
    seasons: int  # past seasons averaged (0 for RECENT)
    trend: float  # the level ratio applied to the seasonal profile (1.0 for RECENT)
    error: float | None  # mean relative error of the past forecasts whose horizon has passed; None: none yet


def level_s(horizon_s: float) -> float:
    """The level window: as long as the horizon."""
    return horizon_s


def windows(now: float, *, horizon_s: float, season_s: float, lookback_s: float = 0.0) -> list[tuple[float, float]]:
    """The time ranges forecast() reads: the last max(level, `lookback_s`) (the level, and the
    outcome of past forecasts) and, per past season, its level window and its horizon. Reading only
    these keeps a tick's read bounded whatever the season's length."""
    level = level_s(horizon_s)
    spans = [(now - max(level, lookback_s), now)]
    spans += [(now - k * season_s - level, now - k * season_s + horizon_s) for k in range(1, SEASONS_BACK + 1)]
    return spans


def rate_between(counts: Mapping[int, int], start: float, end: float, *, bucket_s: float, now: float) -> float:
    """Arrivals/s over [start, end) from bucket counts by bucket index, each spread evenly over
    its span (the bucket holding `now` over [its start, now))."""
    if end <= start:
        return 0.0
    total = 0.0
    for index in range(math.floor(start / bucket_s), math.ceil(end / bucket_s)):
        n = counts.get(index, 0)
        low, high = index * bucket_s, min((index + 1) * bucket_s, now)
        if n and high > low:
            total += n * max(0.0, min(high, end) - max(low, start)) / (high - low)
    return total / (end - start)


def relative_error(predicted: float, actual: float, horizon_s: float) -> float:
    """|predicted - actual| / actual, with `actual` at least one arrival per horizon (a quiet
    horizon is not an infinite error)."""
    return abs(predicted - actual) / max(actual, 1.0 / horizon_s)


def by_index(history: Iterable[tuple[float, int]], bucket_s: float) -> dict[int, int]:
    return {round(start / bucket_s): int(n) for start, n in history}


def forecast_error(past: Iterable[tuple[float, float]], counts: Mapping[int, int], *, now: float, horizon_s: float,
                   bucket_s: float) -> float | None:
    """Mean relative error of the forecasts (made at t, rate) whose horizon has passed, against
    the arrivals that came in [t, t + horizon); None when none has. `counts` must cover them."""
    errors = [relative_error(rate, rate_between(counts, t, t + horizon_s, bucket_s=bucket_s, now=now), horizon_s)
              for t, rate in past if t + horizon_s <= now]
    return sum(errors) / len(errors) if errors else None


def forecast(history: Sequence[tuple[float, int]], *, now: float, horizon_s: float, bucket_s: float, season_s: float,
             since: float | None = None, past: Iterable[tuple[float, float]] = ()) -> Forecast:
    """The arrival rate expected over the next `horizon_s` (see the module's docstring).

    `history`: (bucket start, count), buckets not given count as empty; `since`: when the history
    begins (the first arrival recorded; default: its first bucket), so that zeros before it are not
    taken for a quiet season; `past`: (time, rate) of earlier forecasts, for the error."""
    counts = by_index(history, bucket_s)
    if since is None:
        since = min((start for start, _ in history), default=now)
    level = level_s(horizon_s)

    def rate(start: float, end: float) -> float:
        return rate_between(counts, start, end, bucket_s=bucket_s, now=now)

    recent = rate(now - level, now)
    error = forecast_error(past, counts, now=now, horizon_s=horizon_s, bucket_s=bucket_s)
    seasons = [k for k in range(1, SEASONS_BACK + 1) if now - k * season_s - level >= since]
    if not seasons:
        return Forecast(recent, RECENT, recent, 0, 1.0, error)
    ahead = sum(rate(now - k * season_s, now - k * season_s + horizon_s) for k in seasons) / len(seasons)
    before = sum(rate(now - k * season_s - level, now - k * season_s) for k in seasons) / len(seasons)
    pseudo = PSEUDO_ARRIVALS / level
    trend = min(MAX_TREND, max(1 / MAX_TREND, (recent + pseudo) / (before + pseudo)))
    return Forecast(ahead * trend, SEASONAL, recent, len(seasons), trend, error)
