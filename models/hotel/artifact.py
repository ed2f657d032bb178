"""The served hotel price model: `load(artifact_dir, manifest) -> HotelPricer` (registry loader).

    pricer = models.registry.load_model("hotel-price")
    pricer.predict("aspen", date(2026, 12, 27), date(2026, 12, 31), guests=2, budget=3000.0)

returns one dict per hotel at the destination, cheapest first:

    {"hotel_id", "name", "stars", "rating",
     "nightly_price": median (q50) USD per night, rounded to cents,
     "interval": [q10, q90] USD per night (an 80% prediction interval),
     "confidence": clip(1 - (q90 - q10) / (2 * q50), 0, 1), rounded to 3 decimals,
     "total_price": nightly_price * nights,
     "within_budget": total_price <= budget (budget is for the whole stay), None without budget}

Any invalid argument raises ValueError: `models.hotel.stay.InvalidStay`, the API's own checks and
words, or a destination this model was not trained on.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import date
from pathlib import Path

import numpy as np
import torch

from models.hotel import catalog, data
from models.hotel.model import HotelPriceNet
from models.hotel.stay import StayRequest, check_stay, reference_date
from models.service import ModelService

log = logging.getLogger(__name__)

WEIGHTS = "weights.pt"
CONFIG = "config.json"
CONFIDENCE_FORMULA = "clip(1 - (q90 - q10) / (2 * q50), 0, 1)"


def confidence(q10, q50, q90):
    """1 minus the relative half-width of the 80% interval, clipped to [0, 1]."""
    return np.clip(1.0 - (np.asarray(q90) - np.asarray(q10)) / (2.0 * np.asarray(q50)), 0.0, 1.0)


class HotelPricer(ModelService):
    """A trained HotelPriceNet plus its feature spec; thread-safe for inference.

    A `models.service.ModelService`: preprocess validates a stay and builds per-hotel tensors,
    infer runs the network once for all hotels, postprocess turns quantiles into priced hotels.
    What prices a table of generated bookings (training and evaluation) is `models.build.hotel_eval`."""

    device = "cpu"

    def __init__(self, net: HotelPriceNet, config: dict, name: str = "hotel-price",
                 version: str = "dev", manifest: dict | None = None):
        self.net = net.eval()
        self.config = config
        self.name = name
        self.version = version
        self.manifest = manifest or {}
        self.destinations: list[str] = list(config["destinations"])
        self.event_vocab: list[str] = list(config["event_vocab"])
        self._dest_index = {d: i for i, d in enumerate(self.destinations)}

    def predict(self, destination: str, check_in: date, check_out: date, guests: int,
                budget: float | None = None, today: date | None = None) -> list[dict]:
        """Price every hotel of `destination` for the stay (the service's `handle`)."""
        return self.handle({"destination": destination, "check_in": check_in, "check_out": check_out,
                            "guests": guests, "budget": budget, "today": today})

    def preprocess(self, request: dict) -> dict:
        """Validate the stay (the API's own checks, `models.hotel.stay`: the same refusals in the
        same words) and build the network's input tensors (one row per hotel)."""
        stay = self.stay_of(request)
        slug, nights, guests, budget, check_in, lead = (stay.destination, stay.nights, stay.guests, stay.budget,
                                                        stay.check_in, stay.lead_days)

        hotels = catalog.hotels_for(slug)
        rows = [data.night_feature_row(catalog.night_info(slug, date.fromordinal(check_in.toordinal() + i)),
                                       self.event_vocab) for i in range(nights)]
        n_h = len(hotels)
        return {
            "hotels": hotels, "nights": nights, "budget": budget,
            "tensors": (
                torch.full((n_h,), self._dest_index[slug], dtype=torch.long),
                torch.tensor(rows, dtype=torch.float32)[None].expand(n_h, -1, -1),
                torch.ones(n_h, nights, dtype=torch.bool),
                torch.from_numpy(data.stay_features([h.stars for h in hotels], [h.rating for h in hotels],
                                                    lead, nights, guests)),
                torch.full((n_h,), math.log(catalog.get_destination(slug).base_price)),
            ),
        }

    def stay_of(self, request: dict) -> StayRequest:
        """The stay `request` asks for (dates as dates or ISO strings; `today`, the day the lead
        time counts from, default today), or ValueError (`InvalidStay`) naming every problem."""
        today = date.today() if request.get("today") is None else reference_date(request["today"])
        stay = check_stay({k: v for k, v in request.items() if k != "today"}, today)
        if stay.destination not in self._dest_index:
            raise ValueError(
                f"destination {stay.destination!r} is in the catalog but {self.name}@{self.version} was not "
                "trained on it; retrain with `make model`"
            )
        return stay

    def infer(self, batch: dict) -> dict:
        """Quantiles (q10, q50, q90) of the nightly price, one row per hotel, in one forward pass."""
        with torch.inference_mode():
            q = torch.exp(self.net(*batch["tensors"])).double().numpy()
        return {**batch, "quantiles": q}

    def postprocess(self, outputs: dict, request: dict | None = None) -> list[dict]:
        q, nights, budget = outputs["quantiles"], outputs["nights"], outputs["budget"]
        conf = confidence(q[:, 0], q[:, 1], q[:, 2])
        out = []
        for h, (lo, mid, hi), c in zip(outputs["hotels"], q, conf, strict=True):
            nightly = round(float(mid), 2)
            total = round(nightly * nights, 2)
            out.append({
                **h.as_dict(),
                "nightly_price": nightly,
                "interval": [round(float(lo), 2), round(float(hi), 2)],
                "confidence": round(float(c), 3),
                "total_price": total,
                "within_budget": None if budget is None else bool(total <= budget),
            })
        out.sort(key=lambda r: (r["nightly_price"], r["hotel_id"]))
        return out


def load(artifact_dir: Path, manifest: dict) -> HotelPricer:
    """Registry loader: the manifest's hashes were verified before this runs."""
    artifact_dir = Path(artifact_dir)
    config = json.loads((artifact_dir / CONFIG).read_text())
    net = HotelPriceNet(**config["net"])
    state = torch.load(artifact_dir / WEIGHTS, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    if config.get("catalog_fingerprint") != catalog.catalog_fingerprint():
        log.warning(
            "%s@%s was trained on a different hotel catalog (fingerprint %s, now %s); "
            "prices may be off until `make model` retrains it",
            manifest.get("name"), manifest.get("version"),
            str(config.get("catalog_fingerprint"))[:12], catalog.catalog_fingerprint()[:12],
        )
    return HotelPricer(net, config, name=manifest.get("name", "hotel-price"),
                       version=manifest.get("version", artifact_dir.name), manifest=manifest)
