"""Synthetic booking data with the structure real hotel prices have (`make model` trains on it).

The generator is the "market": for a booking (destination, hotel, check-in, nights, guests, lead
time) the **true price** per night is

    base(destination)
      * exp(star_premium(destination) * (stars - 3.5)) * exp(RATING_PREMIUM * (rating - 8))
      * mean over the nights of [ season(destination, night) * weekend * public holiday
                                  * winter holidays * each local event covering the night ]
                                ** (1 + DEMAND_STAR_AMPLIFY * (stars - 3.5))
      * lead_factor(lead days) * stay_factor(nights) * GUEST_FACTOR[guests]

and the **observed price** is `true * exp(sigma * z)`, z ~ N(0, 1), with a noise level `sigma`
that grows with the market's volatility, the share of event nights and last-minute booking. The
noise has median 1, so the true price is the conditional median of the observed price (its mean
is higher by exp(sigma^2 / 2), under 1%). All randomness comes from one numpy Generator seeded by
the caller: the same seed gives the same data.

The model never sees the multipliers, only the calendar facts (`models.hotel.data`, the serving
side's features). The table of bookings it fills (`Bookings`, over a `Calendar`) is build side too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from models.hotel import catalog
from models.hotel.data import night_feature_row

RATING_PREMIUM = 0.07  # log-price per rating point (out of 10)
#: luxury hotels swing harder with demand: a night's multiplier is raised to 1 + this * (stars - 3.5)
DEMAND_STAR_AMPLIFY = 0.12
#: price factor of a room for 1..MAX_GUESTS guests, relative to two
GUEST_FACTOR = np.array([0.90, 1.00, 1.20, 1.35, 1.55, 1.70])
EVENT_VOLATILITY = 0.05  # extra noise std on a stay made only of event nights
LAST_MINUTE_VOLATILITY = 0.03  # extra noise std at lead 0, decaying over a week


def lead_factor(lead_days):
    """Last-minute premium (+12% at 0 days, gone within ~2 weeks), early-booking discount (~-5%)."""
    lead = np.asarray(lead_days, dtype=np.float64)
    return np.exp(0.12 * np.exp(-lead / 5.0) - 0.05 * (1.0 - np.exp(-lead / 60.0)))


def stay_factor(nights):
    """Length-of-stay discount: -3% per e-fold of nights (a week: -6%, four weeks: -10%)."""
    return np.exp(-0.03 * np.log(np.asarray(nights, dtype=np.float64)))


def hotel_factor(destination: str, stars, rating):
    dest = catalog.get_destination(destination)
    stars = np.asarray(stars, dtype=np.float64)
    rating = np.asarray(rating, dtype=np.float64)
    return np.exp(dest.star_premium * (stars - 3.5) + RATING_PREMIUM * (rating - 8.0))


def night_multiplier(destination: str, day: date) -> float:
    """Demand multiplier of one night: season x weekend x holiday x winter holidays x events."""
    dest = catalog.get_destination(destination)
    info = catalog.night_info(dest.slug, day)
    m = catalog.season_factor(dest.slug, day)
    if info.weekend:
        m *= dest.weekend
    if info.holiday:
        m *= dest.holiday
    if info.winter_holidays:
        m *= dest.winter_holidays
    for event in dest.events:
        if event.name in info.events:
            m *= event.multiplier
    return m


def noise_sigma(volatility, event_share, lead_days):
    lead = np.asarray(lead_days, dtype=np.float64)
    return volatility + EVENT_VOLATILITY * np.asarray(event_share) + LAST_MINUTE_VOLATILITY * np.exp(-lead / 7.0)


def true_price(destination: str, hotel: catalog.Hotel, check_in: date, nights: int, guests: int,
               lead_days: int) -> float:
    """The generator's noise-free nightly price of one booking (scalar reference implementation)."""
    days = [check_in + timedelta(days=i) for i in range(nights)]
    power = 1.0 + DEMAND_STAR_AMPLIFY * (hotel.stars - 3.5)
    season = sum(night_multiplier(destination, d) ** power for d in days) / nights
    dest = catalog.get_destination(destination)
    return float(
        dest.base_price * hotel_factor(destination, hotel.stars, hotel.rating) * season
        * lead_factor(lead_days) * stay_factor(nights) * GUEST_FACTOR[guests - 1]
    )


@dataclass
class Calendar:
    """Per (destination, day) calendar facts and true multipliers over a date range
    (`build_calendar`)."""

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
    """n generated bookings (`generate`), the table the hotel model trains and is evaluated on
    (`models.build.hotel_eval`); arrays are per booking, night arrays [n, MAX_NIGHTS]."""

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


def build_calendar(destinations: list[str], start: date, n_days: int) -> Calendar:
    """The calendar facts and the market's true night multipliers of `n_days` from `start`."""
    days = [start + timedelta(days=i) for i in range(n_days)]
    infos = [[catalog.night_info(d, day) for day in days] for d in destinations]
    mult = np.array([[night_multiplier(d, day) for day in days] for d in destinations])
    has_event = np.array([[bool(i.events) for i in row] for row in infos])
    return Calendar(list(destinations), start, infos, mult, has_event)


def sample_nights(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mostly short stays (mean ~4 nights), a tail of long ones up to MAX_NIGHTS."""
    short = 1 + np.minimum(np.floor(rng.exponential(3.0, n)), catalog.MAX_NIGHTS - 1)
    long_ = rng.integers(1, catalog.MAX_NIGHTS + 1, n)
    return np.where(rng.random(n) < 0.06, long_, short).astype(np.int64)


def sample_lead(rng: np.random.Generator, n: int) -> np.ndarray:
    """Lead time in days: last-minute, typical (exponential, mean 45) and far-ahead bookings."""
    kind = rng.random(n)
    lead = np.where(
        kind < 0.3,
        rng.integers(0, 15, n),
        np.where(kind < 0.8, np.minimum(np.floor(rng.exponential(45.0, n)), 365), rng.integers(0, 366, n)),
    )
    return lead.astype(np.int64)


GUEST_PROBS = np.array([0.18, 0.47, 0.15, 0.12, 0.05, 0.03])


def generate(n: int, seed: int, start: date, end: date,
             destinations: list[str] | None = None) -> Bookings:
    """n bookings with check-in uniform in [start, end], deterministic in `seed`."""
    destinations = list(destinations or catalog.known_destinations())
    rng = np.random.default_rng(seed)
    span = (end - start).days + 1
    calendar = build_calendar(destinations, start, span + catalog.MAX_NIGHTS)

    dest = rng.integers(0, len(destinations), n)
    hotels = [catalog.hotels_for(d) for d in destinations]
    pick = np.floor(rng.random(n) * np.array([len(hotels[d]) for d in dest])).astype(np.int64)
    chosen = [hotels[d][h] for d, h in zip(dest, pick, strict=True)]
    stars = np.array([h.stars for h in chosen], dtype=np.float64)
    rating = np.array([h.rating for h in chosen], dtype=np.float64)
    check_in = rng.integers(0, span, n)
    lead = sample_lead(rng, n)
    nights = sample_nights(rng, n)
    guests = rng.choice(np.arange(1, catalog.MAX_GUESTS + 1), size=n, p=GUEST_PROBS)
    z = rng.standard_normal(n)

    bookings = Bookings(
        calendar, dest, np.array([h.id for h in chosen]), stars, rating, check_in, lead, nights,
        guests, np.zeros(n), np.zeros(n), np.zeros(n),
    )
    idx, mask = bookings.night_index()
    mult = calendar.multiplier.reshape(-1)[idx] ** (1.0 + DEMAND_STAR_AMPLIFY * (stars[:, None] - 3.5))
    season = (mult * mask).sum(1) / nights
    event_share = (calendar.has_event.reshape(-1)[idx] * mask).sum(1) / nights
    dest_objs = [catalog.get_destination(d) for d in destinations]
    base = np.array([dest_objs[d].base_price for d in dest])
    premium = np.array([dest_objs[d].star_premium for d in dest])
    volatility = np.array([dest_objs[d].volatility for d in dest])
    hotel = np.exp(premium * (stars - 3.5) + RATING_PREMIUM * (rating - 8.0))
    bookings.true_price = (
        base * hotel * season * lead_factor(lead) * stay_factor(nights) * GUEST_FACTOR[guests - 1]
    )
    bookings.sigma = noise_sigma(volatility, event_share, lead)
    bookings.price = bookings.true_price * np.exp(bookings.sigma * z)
    return bookings
