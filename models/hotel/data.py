"""The hotel price model's inputs: the features of a night and of a stay.

The model never sees the market's multipliers (`models.build.hotel_market`, which generates the
bookings it trains and is evaluated on): its inputs are the calendar *facts* of each night (season
harmonics of the day of year, weekend, public holiday, winter holidays, which events) and of the
stay (stars, rating, lead time, nights, guests, destination); `night_feature_row` and
`stay_features` build them for training and for the predictor alike.
"""

from __future__ import annotations

import math

import numpy as np

from models.hotel import catalog

HARMONICS = 4
NIGHT_BASE_FEATURES = [
    *(f"{fn}_doy_{k}" for k in range(1, HARMONICS + 1) for fn in ("sin", "cos")),
    "weekend",
    "public_holiday",
    "winter_holidays",
]
STAY_FEATURES = [
    "stars_centered",  # (stars - 3.5) / 1.5
    "rating_centered",  # rating - 8
    "lead_decay_7d",  # exp(-lead / 7)
    "lead_decay_60d",  # exp(-lead / 60)
    "lead_years",  # min(lead, 365) / 365
    "log_nights",  # ln(nights) / ln(MAX_NIGHTS)
    *(f"guests_{g}" for g in range(1, catalog.MAX_GUESTS + 1)),  # one-hot
]


def night_feature_names(event_vocab: list[str]) -> list[str]:
    return NIGHT_BASE_FEATURES + [f"event:{name}" for name in event_vocab]


def night_feature_row(info: catalog.NightInfo, event_vocab: list[str]) -> list[float]:
    """Model features of one night; events outside `event_vocab` are ignored."""
    yday, year_days = catalog.day_of_year(info.day)
    t = 2.0 * math.pi * (yday - 0.5) / year_days
    row = []
    for k in range(1, HARMONICS + 1):
        row += [math.sin(k * t), math.cos(k * t)]
    row += [float(info.weekend), float(info.holiday is not None), float(info.winter_holidays)]
    row += [float(name in info.events) for name in event_vocab]
    return row


def stay_features(stars, rating, lead_days, nights, guests) -> np.ndarray:
    """[n, len(STAY_FEATURES)] float32 from per-booking arrays (or scalars broadcast)."""
    stars, rating, lead, nights, guests = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (stars, rating, lead_days, nights, guests))
    )
    lead = np.clip(lead, 0.0, None)
    cols = [
        (stars - 3.5) / 1.5,
        rating - 8.0,
        np.exp(-lead / 7.0),
        np.exp(-lead / 60.0),
        np.minimum(lead, 365.0) / 365.0,
        np.log(nights) / math.log(catalog.MAX_NIGHTS),
    ]
    cols += [(guests == g).astype(np.float64) for g in range(1, catalog.MAX_GUESTS + 1)]
    return np.stack([np.atleast_1d(c) for c in cols], axis=-1).astype(np.float32)
