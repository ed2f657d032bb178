"""The shipped hotel price model (models/store/hotel-price): accuracy, structure and contract.

Accuracy is measured on bookings generated here, from a seed and a year (2029) the training never
saw, against the generator's true prices; so a stale artifact, a catalog edited without
retraining or a broken feature builder fails these tests.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta

import numpy as np
import pytest

from brigade.settings import ROOT
from models import registry
from models.build import hotel_eval, hotel_market
from models.hotel import catalog
from tests.fixtures_media import SHIPPED_STORE

TODAY = date(2026, 6, 1)
KEYS = {"hotel_id", "name", "stars", "rating", "nightly_price", "interval", "confidence", "total_price", "within_budget"}


@pytest.fixture(scope="module")
def pricer():
    return registry.load_model("hotel-price", store=SHIPPED_STORE)


@pytest.fixture(scope="module")
def fresh():
    return hotel_market.generate(6000, seed=2029, start=date(2029, 1, 1), end=date(2029, 12, 31))


def test_catalog_imports_without_torch():
    code = (
        "import sys, models.hotel.catalog as c\n"
        "assert len(c.known_destinations()) >= 6\n"
        "assert c.hotels_for('aspen')\n"
        "bad = sorted(m for m in ('torch', 'numpy') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_catalog_contents():
    dests = catalog.known_destinations()
    assert {"paris", "new-york", "tokyo", "barcelona", "cancun", "aspen"} <= set(dests)
    ids = [h.id for d in dests for h in catalog.hotels_for(d)]
    assert len(ids) == len(set(ids))
    for d in dests:
        stars = {h.stars for h in catalog.hotels_for(d)}
        assert {3, 5} <= stars, d
    assert catalog.hotels_for(" Paris ") == catalog.hotels_for("paris")
    with pytest.raises(ValueError, match="unknown destination"):
        catalog.hotels_for("atlantis")
    assert catalog.easter(2026) == date(2026, 4, 5)
    assert catalog.night_info("new-york", date(2026, 11, 26)).holiday == "Thanksgiving"


def test_manifest_records_training(pricer):
    m = pricer.manifest
    assert (pricer.name, pricer.version) == ("hotel-price", "1.0.0")
    assert m["kind"] == "hotel-price" and isinstance(m["seed"], int)
    assert m["destinations"] == catalog.known_destinations()
    assert m["catalog_fingerprint"] == catalog.catalog_fingerprint(), "catalog changed: run `make model`"
    assert m["metrics"]["mape_median_vs_true"] <= 0.08
    assert 0.7 <= m["metrics"]["coverage_q10_q90"] <= 0.9
    assert sum(p.stat().st_size for p in (SHIPPED_STORE / "hotel-price" / "1.0.0").iterdir()) < 2_000_000


def test_generator_is_deterministic_and_matches_reference():
    a = hotel_market.generate(300, seed=5, start=date(2026, 1, 1), end=date(2026, 12, 31))
    b = hotel_market.generate(300, seed=5, start=date(2026, 1, 1), end=date(2026, 12, 31))
    c = hotel_market.generate(300, seed=6, start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert np.array_equal(a.price, b.price) and not np.array_equal(a.price, c.price)
    for i in range(0, 300, 37):
        dest = a.calendar.destinations[a.dest[i]]
        hotel = next(h for h in catalog.hotels_for(dest) if h.id == a.hotel_id[i])
        ref = hotel_market.true_price(dest, hotel, a.calendar.start + timedelta(days=int(a.check_in[i])),
                                      int(a.nights[i]), int(a.guests[i]), int(a.lead[i]))
        assert a.true_price[i] == pytest.approx(ref, rel=1e-9)


def test_heldout_accuracy_and_coverage(pricer, fresh):
    metrics = hotel_eval.evaluate(pricer, fresh)
    assert metrics["mape_median_vs_true"] <= 0.10, metrics
    assert 0.70 <= metrics["coverage_q10_q90"] <= 0.90, metrics
    assert 0.40 <= metrics["share_below_q50"] <= 0.60, metrics
    for dest, mape in metrics["mape_by_destination"].items():
        assert mape <= 0.10, (dest, mape)


def test_predict_contract(pricer):
    check_in, check_out = date(2026, 9, 20), date(2026, 9, 25)
    rows = pricer.predict("paris", check_in, check_out, 2, budget=1500.0, today=TODAY)
    assert {r["hotel_id"] for r in rows} == {h.id for h in catalog.hotels_for("paris")}
    assert [r["nightly_price"] for r in rows] == sorted(r["nightly_price"] for r in rows)
    for r in rows:
        assert set(r) == KEYS
        lo, hi = r["interval"]
        assert 0 < lo <= r["nightly_price"] <= hi
        assert 0.0 <= r["confidence"] <= 1.0
        assert r["total_price"] == pytest.approx(r["nightly_price"] * 5, abs=0.01)
        assert r["within_budget"] is (r["total_price"] <= 1500.0)
    assert any(r["within_budget"] for r in rows) and not all(r["within_budget"] for r in rows)
    no_budget = pricer.predict("paris", check_in, check_out, 2, today=TODAY)
    assert all(r["within_budget"] is None for r in no_budget)


def test_predict_matches_generator_truth(pricer):
    cases = [("tokyo", date(2026, 4, 1), 3, 2, 30), ("cancun", date(2026, 12, 22), 7, 4, 90),
             ("new-york", date(2026, 9, 16), 2, 1, 3), ("barcelona", date(2027, 3, 1), 4, 2, 200)]
    for dest, check_in, nights, guests, lead in cases:
        today = check_in - timedelta(days=lead)
        rows = pricer.predict(dest, check_in, check_in + timedelta(days=nights), guests, today=today)
        for r in rows:
            hotel = next(h for h in catalog.hotels_for(dest) if h.id == r["hotel_id"])
            truth = hotel_market.true_price(dest, hotel, check_in, nights, guests, lead)
            assert abs(r["nightly_price"] / truth - 1) <= 0.10, (dest, r, truth)


def test_aspen_winter_holidays_cost_more_than_shoulder_season(pricer):
    # Saturday to Wednesday both times: same weekday mix, four nights, same lead time
    winter = pricer.predict("aspen", date(2026, 12, 26), date(2026, 12, 30), 2, today=date(2026, 10, 1))
    shoulder = pricer.predict("aspen", date(2026, 10, 10), date(2026, 10, 14), 2, today=date(2026, 7, 15))
    by_id = {r["hotel_id"]: r["nightly_price"] for r in shoulder}
    for r in winter:
        assert r["nightly_price"] > 1.5 * by_id[r["hotel_id"]], r


def test_five_stars_cost_more_than_three_stars(pricer):
    for dest in catalog.known_destinations():
        rows = pricer.predict(dest, date(2026, 8, 3), date(2026, 8, 6), 2, today=TODAY)
        five = [r["nightly_price"] for r in rows if r["stars"] == 5]
        three = [r["nightly_price"] for r in rows if r["stars"] == 3]
        assert min(five) > max(three), (dest, rows)


def test_confidence_drops_for_last_minute_event_stays(pricer):
    calm = pricer.predict("barcelona", date(2026, 11, 10), date(2026, 11, 13), 2, today=date(2026, 9, 1))
    mwc = pricer.predict("barcelona", date(2026, 3, 2), date(2026, 3, 5), 2, today=date(2026, 3, 1))
    assert max(r["confidence"] for r in mwc) < min(r["confidence"] for r in calm)
    assert min(r["nightly_price"] for r in mwc) > 1.4 * min(r["nightly_price"] for r in calm)


def test_the_model_refuses_a_stay_as_the_api_does_in_the_same_words(pricer):
    """One validation (models/hotel/stay.py): what a worker is sent is checked with the API's checks,
    so a message from elsewhere fails its job with the detail the API's 422 would have given."""
    from app.errors import ApiError
    from app.hotel_validation import validate

    bad = [{"destination": "atlantis", "check_in": "2026-07-01", "check_out": "2026-07-03", "guests": 2},
           {"destination": "paris", "check_in": "2026-07-03", "check_out": "2026-07-01", "guests": 9, "budget": -1},
           {"destination": "paris", "check_in": "2026-13-01", "check_out": "2026-07-01", "guests": "2", "pets": 1},
           {"destination": "paris", "check_in": "2026-05-01", "check_out": "2026-05-03", "guests": 2}]
    for body in bad:
        with pytest.raises(ApiError) as api:
            validate(body, today=TODAY)
        with pytest.raises(ValueError) as model:
            pricer.handle({**body, "today": TODAY.isoformat()})
        assert str(model.value) == api.value.detail
    good = validate({"destination": " Paris ", "check_in": "2026-05-31", "check_out": "2026-06-02", "guests": 2}, today=TODAY)
    assert pricer.handle(good.message()) == pricer.predict("paris", date(2026, 5, 31), date(2026, 6, 2), 2, today=date(2026, 5, 31))


@pytest.mark.parametrize(
    "args, match",
    [
        (("atlantis", date(2026, 7, 1), date(2026, 7, 3), 2), "unknown destination"),
        (("paris", date(2026, 7, 3), date(2026, 7, 3), 2), "must be after"),
        (("paris", date(2026, 7, 1), date(2026, 9, 1), 2), "limited to"),
        (("paris", date(2026, 7, 1), date(2026, 7, 3), 0), "guests"),
        (("paris", date(2026, 7, 1), date(2026, 7, 3), 7), "guests"),
        (("paris", date(2026, 7, 1), date(2026, 7, 3), 2.5), "guests"),
        (("paris", date(2026, 5, 1), date(2026, 5, 3), 2), "in the past"),
        (("paris", 20260701, date(2026, 7, 3), 2), "check_in must be a date"),
        (("paris", date(2029, 7, 1), date(2029, 7, 3), 2), "days ahead"),
    ],
)
def test_predict_rejects_bad_input(pricer, args, match):
    with pytest.raises(ValueError, match=match):
        pricer.predict(*args, today=TODAY)
    with pytest.raises(ValueError, match="budget"):
        pricer.predict("paris", date(2026, 7, 1), date(2026, 7, 3), 2, budget=-5, today=TODAY)

