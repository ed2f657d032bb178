"""The arrival forecast (worker/forecast.py) on synthetic days: it anticipates a ramp that came at
the same time in past seasons, scales the seasonal profile by today's level, falls back to the
recent rate without a season of history, and measures the error of its past forecasts."""

from __future__ import annotations

import numpy as np
import pytest

from brigade.arrivals import BucketRead
from worker.forecast import MAX_TREND, RECENT, SEASONAL, forecast, rate_between, relative_error, windows

pytestmark = pytest.mark.unit

DAY, BUCKET, HORIZON = 86400.0, 60.0, 120.0
NIGHT, PEAK = 0.2, 5.0  # arrivals/s
RAMP_AT = 8 * 3600.0  # 08:00: the morning rush starts at once


def office_day(t: float) -> float:
    """Arrivals/s at time `t`: quiet until 08:00, busy until 18:00."""
    return PEAK if RAMP_AT <= t % DAY < 18 * 3600 else NIGHT


def arrivals(profile, start: float, end: float, *, scale: float = 1.0, seed: int = 7) -> list[tuple[float, int]]:
    """Poisson counts per bucket over [start, end) of `profile` x `scale`, the last bucket cut at `end`."""
    rng = np.random.default_rng(seed)
    history, t = [], start
    while t < end:
        span = min(BUCKET, end - t)
        history.append((t, int(rng.poisson(profile(t + span / 2) * scale * span))))
        t += BUCKET
    return history


def predict(history, now, **options):
    return forecast(history, now=now, horizon_s=HORIZON, bucket_s=BUCKET, season_s=DAY, **options)


def test_it_anticipates_a_ramp_that_came_at_this_time_in_past_seasons():
    now = 3 * DAY + RAMP_AT - 60  # 07:59 on the fourth day: still quiet, the rush a minute away
    f = predict(arrivals(office_day, 0.0, now), now)
    assert f.method == SEASONAL and f.seasons == 3
    assert f.recent_rate < 1.0  # nothing in the last minutes says a rush is coming
    expected = (NIGHT + PEAK) / 2  # the horizon: a quiet minute, then a busy one
    assert f.rate == pytest.approx(expected, rel=0.3)  # the quiet level before it is a few dozen arrivals: noisy
    assert f.rate > 5 * f.recent_rate


def test_without_a_season_of_history_it_forecasts_the_recent_rate():
    now = 0.9 * DAY
    f = predict(arrivals(office_day, 0.0, now), now)
    assert (f.method, f.seasons, f.trend) == (RECENT, 0, 1.0)
    assert f.rate == f.recent_rate == pytest.approx(rate_between({round(t / BUCKET): n for t, n in arrivals(office_day, 0.0, now)},
                                                                  now - HORIZON, now, bucket_s=BUCKET, now=now))


def test_zeros_before_the_history_began_are_not_a_quiet_season():
    """The buckets are zero filled: only `since` (the first arrival) says where the history starts."""
    now = 3 * DAY + RAMP_AT - 60
    history = arrivals(office_day, 2.5 * DAY, now)
    zero_filled = [(t, 0) for t in np.arange(0.0, 2.5 * DAY, BUCKET)] + history
    assert predict(zero_filled, now, since=2.5 * DAY).method == RECENT
    assert predict(zero_filled, now).method == SEASONAL  # without `since`: the first bucket given
    assert predict(history, now).method == RECENT


def test_the_seasonal_profile_is_scaled_by_how_busy_today_is():
    now = 3 * DAY + 12 * 3600  # noon, mid-rush
    past = arrivals(office_day, 0.0, 3 * DAY)
    today = arrivals(office_day, 3 * DAY, now, scale=2.0, seed=8)
    f = predict(past + today, now)
    assert f.trend == pytest.approx(2.0, rel=0.2)
    assert f.rate == pytest.approx(2 * PEAK, rel=0.2)

    quiet = predict(past + arrivals(office_day, 3 * DAY, now, scale=0.5, seed=9), now)
    assert quiet.rate == pytest.approx(PEAK / 2, rel=0.2)


def test_the_trend_is_clamped():
    now = 3 * DAY + 12 * 3600
    f = predict(arrivals(office_day, 0.0, 3 * DAY) + arrivals(office_day, 3 * DAY, now, scale=20.0), now)
    assert f.trend == MAX_TREND and f.rate == pytest.approx(MAX_TREND * PEAK, rel=0.2)
    dead = predict(arrivals(office_day, 0.0, 3 * DAY) + [(now - HORIZON, 0)], now)
    assert dead.trend == 1 / MAX_TREND and dead.rate == pytest.approx(PEAK / MAX_TREND, rel=0.2)


def test_seasons_are_used_only_as_far_back_as_the_history_goes():
    now = 1 * DAY + RAMP_AT - 60
    f = predict(arrivals(office_day, 0.0, now), now)
    assert f.method == SEASONAL and f.seasons == 1
    assert f.rate == pytest.approx((NIGHT + PEAK) / 2, rel=0.3)


def test_the_error_is_the_mean_relative_error_of_the_forecasts_whose_horizon_has_passed():
    steady = [(t, 120) for t in np.arange(0.0, 3600.0, BUCKET)]  # 2 arrivals/s
    now = 3000.0
    past = [(2000.0, 2.0), (2500.0, 3.0), (2950.0, 100.0)]  # the last one's horizon has not passed
    f = forecast(steady, now=now, horizon_s=HORIZON, bucket_s=BUCKET, season_s=DAY, past=past)
    assert f.error == pytest.approx((0.0 + 0.5) / 2)
    assert predict(steady, now).error is None  # nothing to compare yet


def test_a_quiet_horizon_is_not_an_infinite_error():
    assert relative_error(0.0, 0.0, HORIZON) == 0.0
    assert relative_error(1 / HORIZON, 0.0, HORIZON) == pytest.approx(1.0)  # one arrival forecast, none came
    assert relative_error(3.0, 2.0, HORIZON) == pytest.approx(0.5)


def test_a_bucket_under_way_counts_its_arrivals_over_the_time_elapsed():
    counts = {0: 30}  # 30 arrivals in the bucket [0, 60) so far, at t = 30
    assert rate_between(counts, 0.0, 30.0, bucket_s=60.0, now=30.0) == pytest.approx(1.0)
    assert rate_between(counts, 15.0, 30.0, bucket_s=60.0, now=30.0) == pytest.approx(1.0)
    assert rate_between({0: 60, 1: 0}, 30.0, 90.0, bucket_s=60.0, now=200.0) == pytest.approx(0.5)


@pytest.mark.parametrize("season_s", [600.0, DAY, 7 * DAY])
def test_a_tick_reads_a_bounded_number_of_buckets_whatever_the_season(season_s):
    spans = windows(10 * season_s, horizon_s=HORIZON, season_s=season_s, lookback_s=11 * HORIZON)
    read = BucketRead.over("events", spans, BUCKET)
    assert len(read.indices) <= 11 * HORIZON / BUCKET + 1 + 3 * (2 * HORIZON / BUCKET + 1)


@pytest.mark.parametrize("env, message", [
    ({"AUTOSCALE_TARGET_UTILIZATION": "0"}, "AUTOSCALE_TARGET_UTILIZATION"),
    ({"AUTOSCALE_TARGET_UTILIZATION": "1.5"}, "AUTOSCALE_TARGET_UTILIZATION"),
    ({"ARRIVAL_BUCKET_S": "0"}, "ARRIVAL_BUCKET_S"),
    ({"FORECAST_SEASON_S": "200", "FORECAST_HORIZON_S": "120"}, "FORECAST_SEASON_S must exceed"),
    ({"ARRIVAL_RETENTION_S": "3600"}, "ARRIVAL_RETENTION_S must cover"),
])
def test_settings_that_would_never_forecast_are_refused(env, message):
    from brigade.settings import Settings

    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)
    assert Settings.from_env({"FORECAST_SEASON_S": "240", "ARRIVAL_BUCKET_S": "1", "FORECAST_HORIZON_S": "10",
                              "ARRIVAL_RETENTION_S": "3600"}).FORECAST_SEASON_S == 240  # a compressed day is fine
