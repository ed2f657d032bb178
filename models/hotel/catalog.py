"""The hotel catalog: destinations, their hotels and their calendars. Pure Python on purpose.

The Flask API imports this module to validate requests, so it must never import torch or numpy
(`tests/test_hotel_model.py` checks that in a subprocess). Everything here is data plus small
date arithmetic:

* `DESTINATIONS`: slug -> `Destination` (base nightly price in USD for a 3.5-star, 8.0-rated room
  for two, the market's monthly season profile, weekend/holiday/winter-holiday multipliers,
  recurring local events and the country whose public holidays apply) with its `Hotel`s.
* `night_info(destination, day)`: what the night starting on `day` looks like there (weekend?
  public holiday? winter holidays? which local events?). Both the data generator and the
  predictor's feature builder read the calendar through this one function.

The catalog is fictional (hotel names, prices and multipliers are invented) but shaped like real
markets: Aspen is a ski town, Cancún peaks in winter and spring break, Barcelona in summer, and
so on. Event dates are fixed month/day ranges every year, a simplification of real calendars.
Changing anything here changes `catalog_fingerprint()`; retrain (`make model`) afterwards.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType

#: Nights a stay may have (the model is trained on 1..MAX_NIGHTS).
MAX_NIGHTS = 30
#: Guests per booking (one room).
MAX_GUESTS = 6
#: Winter-holiday window, as (month, day) of the first and last night; it wraps the new year.
WINTER_HOLIDAYS = ((12, 20), (1, 3))


@dataclass(frozen=True)
class Hotel:
    id: str
    name: str
    stars: int  # 2..5
    rating: float  # guest rating out of 10

    def as_dict(self) -> dict:
        return {"hotel_id": self.id, "name": self.name, "stars": self.stars, "rating": self.rating}


@dataclass(frozen=True)
class Event:
    name: str
    start: tuple[int, int]  # (month, day) of the first night, inclusive
    end: tuple[int, int]  # (month, day) of the last night, inclusive; same year as start
    multiplier: float  # demand effect on the nightly price

    def covers(self, day: date) -> bool:
        return self.start <= (day.month, day.day) <= self.end


@dataclass(frozen=True)
class Destination:
    slug: str
    name: str
    country: str  # ISO code selecting the public-holiday calendar
    base_price: float  # USD/night: 3.5 stars, rating 8.0, 2 guests, season factor 1
    star_premium: float  # log-price per star (luxury spread of the market)
    season: tuple[float, ...]  # 12 monthly multipliers, anchored mid-month, interpolated daily
    weekend: float  # Friday and Saturday nights
    holiday: float  # nights on a public holiday
    winter_holidays: float  # nights in the WINTER_HOLIDAYS window
    volatility: float  # log-price noise of the market (std) on a calm night
    events: tuple[Event, ...]
    hotels: tuple[Hotel, ...]


def _h(hid: str, name: str, stars: int, rating: float) -> Hotel:
    return Hotel(hid, name, stars, rating)


DESTINATIONS: dict[str, Destination] = {
    d.slug: d
    for d in (
        Destination(
            "paris", "Paris", "FR", 230.0, 0.38,
            (0.82, 0.85, 0.95, 1.05, 1.12, 1.18, 1.10, 0.96, 1.15, 1.08, 0.90, 0.95),
            1.10, 1.10, 1.20, 0.060,
            (
                Event("Paris Fashion Week (winter)", (2, 26), (3, 5), 1.35),
                Event("Roland-Garros", (5, 25), (6, 8), 1.20),
                Event("Paris Fashion Week (autumn)", (9, 23), (10, 1), 1.35),
            ),
            (
                _h("par-lumiere", "Hôtel Lumière Vendôme", 5, 9.3),
                _h("par-rivoli", "Palais Rivoli", 5, 8.8),
                _h("par-stgermain", "Maison Saint-Germain", 4, 8.9),
                _h("par-canal", "Hôtel du Canal", 3, 8.2),
                _h("par-montmartre", "Le Petit Montmartre", 3, 7.6),
                _h("par-bastille", "Auberge Bastille", 2, 7.1),
            ),
        ),
        Destination(
            "new-york", "New York", "US", 280.0, 0.40,
            (0.75, 0.78, 0.90, 1.00, 1.08, 1.10, 1.00, 0.95, 1.12, 1.15, 1.10, 1.25),
            1.05, 1.08, 1.30, 0.070,
            (
                Event("UN General Assembly", (9, 15), (9, 28), 1.30),
                Event("New York City Marathon", (10, 31), (11, 3), 1.25),
                Event("New Year's Eve in Times Square", (12, 30), (12, 31), 1.50),
            ),
            (
                _h("nyc-hudson", "The Hudson Crown", 5, 9.2),
                _h("nyc-parkslope", "Park Slope Suites", 4, 8.6),
                _h("nyc-midtown", "Midtown Loft Hotel", 4, 8.1),
                _h("nyc-gramercy", "Gramercy House", 3, 8.5),
                _h("nyc-bowery", "Bowery Commons", 3, 7.9),
                _h("nyc-queens", "Queens Gateway Inn", 2, 7.0),
            ),
        ),
        Destination(
            "tokyo", "Tokyo", "JP", 190.0, 0.36,
            (0.88, 0.85, 1.05, 1.20, 1.05, 0.92, 1.02, 1.05, 0.95, 1.08, 1.10, 1.00),
            1.08, 1.08, 1.15, 0.060,
            (
                Event("Cherry blossom (hanami)", (3, 24), (4, 8), 1.30),
                Event("Golden Week", (4, 29), (5, 5), 1.35),
                Event("Sumida River Fireworks", (7, 25), (7, 27), 1.20),
                Event("Tokyo Game Show", (9, 25), (9, 28), 1.15),
            ),
            (
                _h("tyo-kioicho", "Kioicho Imperial Tower", 5, 9.5),
                _h("tyo-ginza", "Ginza Garden Hotel", 4, 9.0),
                _h("tyo-shinjuku", "Shinjuku Sky Hotel", 4, 8.7),
                _h("tyo-asakusa", "Asakusa Riverside", 3, 8.4),
                _h("tyo-ueno", "Ueno Station Inn", 3, 7.5),
                _h("tyo-shibuya", "Shibuya Capsule & Rooms", 2, 7.8),
            ),
        ),
        Destination(
            "barcelona", "Barcelona", "ES", 170.0, 0.37,
            (0.72, 0.78, 0.88, 1.00, 1.10, 1.22, 1.32, 1.30, 1.15, 1.00, 0.80, 0.82),
            1.12, 1.10, 1.10, 0.065,
            (
                Event("Mobile World Congress", (3, 2), (3, 5), 1.60),
                Event("Primavera Sound", (6, 4), (6, 8), 1.30),
                Event("La Mercè", (9, 21), (9, 24), 1.20),
            ),
            (
                _h("bcn-gracia", "Casa Gràcia Palace", 5, 9.1),
                _h("bcn-eixample", "Eixample Boutique", 4, 8.9),
                _h("bcn-barceloneta", "Hotel Barceloneta Mar", 4, 8.4),
                _h("bcn-sants", "Sants Travel Hotel", 3, 8.0),
                _h("bcn-gotic", "Gòtic Rooms", 3, 7.7),
                _h("bcn-raval", "Hostal Raval", 2, 6.9),
            ),
        ),
        Destination(
            "cancun", "Cancún", "MX", 210.0, 0.42,
            (1.10, 1.15, 1.22, 1.05, 0.90, 0.85, 1.00, 0.92, 0.72, 0.78, 0.92, 1.15),
            1.04, 1.06, 1.40, 0.075,
            (
                Event("Spring Break", (3, 7), (3, 23), 1.30),
                Event("Riviera Maya Jazz Festival", (11, 27), (11, 30), 1.15),
            ),
            (
                _h("cun-azul", "Azul Lagoon Resort", 5, 9.0),
                _h("cun-delfines", "Playa Delfines Grand", 5, 8.5),
                _h("cun-coral", "Coral Beach Suites", 4, 8.8),
                _h("cun-dorada", "Hotel Zona Dorada", 4, 8.3),
                _h("cun-centro", "Centro Cancún Inn", 3, 7.6),
                _h("cun-tulum", "Hostal Avenida Tulum", 2, 7.2),
            ),
        ),
        Destination(
            "aspen", "Aspen", "US", 320.0, 0.45,
            (1.35, 1.45, 1.40, 0.85, 0.60, 0.95, 1.15, 1.05, 0.80, 0.60, 0.70, 1.30),
            1.12, 1.12, 1.50, 0.080,
            (
                Event("Winter X Games", (1, 23), (1, 26), 1.30),
                Event("Food & Wine Classic", (6, 12), (6, 15), 1.35),
                Event("Aspen Ideas Festival", (6, 25), (7, 1), 1.25),
            ),
            (
                _h("ase-ajax", "Ajax Mountain Lodge", 5, 9.4),
                _h("ase-silverqueen", "Silver Queen Chalet", 5, 8.9),
                _h("ase-maroon", "Maroon Bells Inn", 4, 8.6),
                _h("ase-roaringfork", "Roaring Fork Lodge", 3, 8.1),
                _h("ase-snowmass", "Snowmass Trail Hotel", 3, 7.7),
                _h("ase-basalt", "Basalt Valley Motel", 2, 7.3),
            ),
        ),
    )
}


def known_destinations() -> list[str]:
    """Destination slugs, in catalog order."""
    return list(DESTINATIONS)


def normalize_destination(destination: str) -> str:
    """Canonical slug of `destination` (case and surrounding space ignored); ValueError if unknown."""
    slug = destination.strip().lower() if isinstance(destination, str) else destination
    if slug not in DESTINATIONS:
        raise ValueError(
            f"unknown destination {destination!r}; known destinations: {', '.join(DESTINATIONS)}"
        )
    return slug


def get_destination(destination: str) -> Destination:
    return DESTINATIONS[normalize_destination(destination)]


def hotels_for(destination: str) -> list[Hotel]:
    """The hotels at `destination` (ValueError for an unknown destination)."""
    return list(get_destination(destination).hotels)


def event_names() -> list[str]:
    """Every event in the catalog, in catalog order: the model's event vocabulary."""
    return [e.name for d in DESTINATIONS.values() for e in d.events]


# --- public holidays -------------------------------------------------------------------------


def easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """n-th (1-based; -1 = last) `weekday` (Mon=0) of the month."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


@lru_cache(maxsize=256)
def public_holidays(country: str, year: int) -> Mapping[date, str]:
    """The main public holidays of `country` in `year` (a simplified national calendar)."""
    e = easter(year)
    d = date
    table: dict[str, list[tuple[date, str]]] = {
        "US": [
            (d(year, 1, 1), "New Year's Day"),
            (_nth_weekday(year, 1, 0, 3), "Martin Luther King Jr. Day"),
            (_nth_weekday(year, 2, 0, 3), "Presidents' Day"),
            (_nth_weekday(year, 5, 0, -1), "Memorial Day"),
            (d(year, 6, 19), "Juneteenth"),
            (d(year, 7, 4), "Independence Day"),
            (_nth_weekday(year, 9, 0, 1), "Labor Day"),
            (_nth_weekday(year, 11, 3, 4), "Thanksgiving"),
            (d(year, 12, 25), "Christmas Day"),
        ],
        "FR": [
            (d(year, 1, 1), "Jour de l'an"),
            (e + timedelta(days=1), "Lundi de Pâques"),
            (d(year, 5, 1), "Fête du Travail"),
            (d(year, 5, 8), "Victoire 1945"),
            (e + timedelta(days=39), "Ascension"),
            (e + timedelta(days=50), "Lundi de Pentecôte"),
            (d(year, 7, 14), "Fête nationale"),
            (d(year, 8, 15), "Assomption"),
            (d(year, 11, 1), "Toussaint"),
            (d(year, 11, 11), "Armistice"),
            (d(year, 12, 25), "Noël"),
        ],
        "JP": [
            (d(year, 1, 1), "Ganjitsu"),
            (_nth_weekday(year, 1, 0, 2), "Seijin no Hi"),
            (d(year, 2, 11), "Kenkoku Kinen no Hi"),
            (d(year, 2, 23), "Tennō Tanjōbi"),
            (d(year, 3, 20), "Shunbun no Hi"),
            (d(year, 4, 29), "Shōwa no Hi"),
            (d(year, 5, 3), "Kenpō Kinenbi"),
            (d(year, 5, 4), "Midori no Hi"),
            (d(year, 5, 5), "Kodomo no Hi"),
            (_nth_weekday(year, 7, 0, 3), "Umi no Hi"),
            (d(year, 8, 11), "Yama no Hi"),
            (_nth_weekday(year, 9, 0, 3), "Keirō no Hi"),
            (d(year, 9, 23), "Shūbun no Hi"),
            (_nth_weekday(year, 10, 0, 2), "Supōtsu no Hi"),
            (d(year, 11, 3), "Bunka no Hi"),
            (d(year, 11, 23), "Kinrō Kansha no Hi"),
        ],
        "ES": [  # Spain plus Catalonia
            (d(year, 1, 1), "Año Nuevo"),
            (d(year, 1, 6), "Reyes"),
            (e - timedelta(days=2), "Viernes Santo"),
            (e + timedelta(days=1), "Lunes de Pascua"),
            (d(year, 5, 1), "Fiesta del Trabajo"),
            (d(year, 6, 24), "Sant Joan"),
            (d(year, 8, 15), "Asunción"),
            (d(year, 9, 11), "Diada"),
            (d(year, 9, 24), "La Mercè"),
            (d(year, 10, 12), "Fiesta Nacional"),
            (d(year, 11, 1), "Todos los Santos"),
            (d(year, 12, 6), "Constitución"),
            (d(year, 12, 8), "Inmaculada"),
            (d(year, 12, 25), "Navidad"),
            (d(year, 12, 26), "Sant Esteve"),
        ],
        "MX": [
            (d(year, 1, 1), "Año Nuevo"),
            (_nth_weekday(year, 2, 0, 1), "Día de la Constitución"),
            (_nth_weekday(year, 3, 0, 3), "Natalicio de Benito Juárez"),
            (e - timedelta(days=3), "Jueves Santo"),
            (e - timedelta(days=2), "Viernes Santo"),
            (d(year, 5, 1), "Día del Trabajo"),
            (d(year, 9, 16), "Día de la Independencia"),
            (_nth_weekday(year, 11, 0, 3), "Día de la Revolución"),
            (d(year, 12, 25), "Navidad"),
        ],
    }
    if country not in table:
        raise ValueError(f"no public-holiday calendar for country {country!r}")
    return MappingProxyType(dict(table[country]))


# --- the calendar of a night ---------------------------------------------------------------


@dataclass(frozen=True)
class NightInfo:
    day: date
    weekend: bool  # Friday or Saturday night
    holiday: str | None  # public holiday on that date
    winter_holidays: bool
    events: tuple[str, ...]  # local events covering the night


def in_winter_holidays(day: date) -> bool:
    md = (day.month, day.day)
    return md >= WINTER_HOLIDAYS[0] or md <= WINTER_HOLIDAYS[1]


@lru_cache(maxsize=65536)
def night_info(destination: str, day: date) -> NightInfo:
    """The calendar of the night that starts on `day` at `destination`."""
    dest = get_destination(destination)
    return NightInfo(
        day=day,
        weekend=day.weekday() in (4, 5),
        holiday=public_holidays(dest.country, day.year).get(day),
        winter_holidays=in_winter_holidays(day),
        events=tuple(e.name for e in dest.events if e.covers(day)),
    )


def day_of_year(day: date) -> tuple[int, int]:
    """(`day`'s day of the year from 1, days in its year): the season and the model's yearly
    harmonics both place a night in its year this way."""
    year_days = 366 if date(day.year, 12, 31).timetuple().tm_yday == 366 else 365
    return day.timetuple().tm_yday, year_days


def season_factor(destination: str, day: date) -> float:
    """The destination's season multiplier on `day`: monthly anchors at mid-month, linear between."""
    profile = get_destination(destination).season
    yday, year_days = day_of_year(day)
    # position in "months" where k.0 is the middle of month k (0 = January), cyclic
    pos = (yday - 0.5) / year_days * 12.0 - 0.5
    lo = int(pos // 1)
    frac = pos - lo
    return profile[lo % 12] * (1.0 - frac) + profile[(lo + 1) % 12] * frac


def catalog_fingerprint() -> str:
    """sha256 of the catalog's content; the trained model records it."""
    payload = json.dumps(
        {"destinations": [asdict(d) for d in DESTINATIONS.values()], "winter": WINTER_HOLIDAYS,
         "max_nights": MAX_NIGHTS, "max_guests": MAX_GUESTS},
        sort_keys=True, ensure_ascii=True, default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()
