"""The hotel price model's inputs: the features of a night and of a stay, and the table of
bookings it trains and is evaluated on.

The model never sees the market's multipliers (`models.build.hotel_market`, which generates the
bookings): its inputs are the calendar *facts* of each night (season harmonics of the day of year,
weekend, public holiday, winter holidays, which events) and of the stay (stars, rating, lead time,
nights, guests, destination); `night_feature_row` and `stay_features` build them for training and
for the predictor alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

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



# --- the booking table ---------------------------------------------------------------------------

@dataclass
class Calendar:
    """Per (destination, day) calendar facts and true multipliers over a date range
    (`models.build.hotel_market.build_calendar`)."""

    destinations: list[str]
    start: date
    infos: list[list[catalog.NightInfo]]  # [destination][day offset]
    multiplier: np.ndarray  # [D, T] true night multiplier
    has_event: np.ndarray  # [D, T] bool

    def feature_table(self, event_vocab: list[str]) -> np.ndarray:
        """[D * T, F] float32 night features, row d * T + t."""
        rows = [night_feature_row(i, event_vocab) for row in self.infos for i in row]
        return np.asarray(rows, dtype=np.float32)


@dataclass
class Bookings:
    """n generated bookings; arrays are per booking, night arrays [n, MAX_NIGHTS]."""

    calendar: Calendar
    dest: np.ndarray  # index into calendar.destinations
    hotel_id: np.ndarray  # str
    stars: np.ndarray
    rating: np.ndarray
    check_in: np.ndarray  # day offset from calendar.start
    lead: np.ndarray  # days between booking and check-in
    nights: np.ndarray
    guests: np.ndarray
    true_price: np.ndarray  # noise-free nightly price (conditional median)
    sigma: np.ndarray  # log-noise std of this booking
    price: np.ndarray  # observed nightly price

    def __len__(self) -> int:
        return len(self.dest)

    def night_index(self) -> tuple[np.ndarray, np.ndarray]:
        """([n, MAX_NIGHTS] row in the calendar's feature table, [n, MAX_NIGHTS] valid-night mask)."""
        n_days = self.calendar.multiplier.shape[1]
        offs = self.check_in[:, None] + np.arange(catalog.MAX_NIGHTS)[None, :]
        mask = np.arange(catalog.MAX_NIGHTS)[None, :] < self.nights[:, None]
        idx = self.dest[:, None] * n_days + np.minimum(offs, n_days - 1)
        return idx.astype(np.int64), mask
