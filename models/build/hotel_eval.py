"""The hotel price model over a table of generated bookings (`models.build.hotel_market`), for
training and evaluation; a worker prices one stay with `HotelPricer.predict` and never runs this.

`encode` turns bookings into the network's inputs (night features kept in a table indexed per
night), `batch_tensors` cuts a batch of them (what `train_hotel` fits on), `quantiles` predicts
q10/q50/q90 for every booking and `evaluate` scores them against the generator's true and
observed prices (the metrics `make model` stores in the manifest and `tests/test_hotel_model.py`
checks on a year the training never saw).
"""

from __future__ import annotations

import numpy as np
import torch

from models.build.hotel_market import Bookings
from models.hotel import catalog, data
from models.hotel.artifact import HotelPricer, confidence
from models.hotel.model import QUANTILES


def encode(pricer: HotelPricer, bookings: Bookings) -> dict[str, np.ndarray]:
    """Model inputs of generated bookings; night features stay in a table indexed per night."""
    dest_index = {d: i for i, d in enumerate(pricer.destinations)}
    try:
        dest_map = np.array([dest_index[d] for d in bookings.calendar.destinations])
    except KeyError as exc:
        raise ValueError(f"bookings name destination {exc} unknown to this model") from exc
    idx, mask = bookings.night_index()
    bases = np.log([catalog.get_destination(d).base_price for d in bookings.calendar.destinations])
    return {
        "table": bookings.calendar.feature_table(pricer.event_vocab),
        "night_index": idx,
        "mask": mask,
        "dest": dest_map[bookings.dest],
        "stay_x": data.stay_features(bookings.stars, bookings.rating, bookings.lead,
                                     bookings.nights, bookings.guests),
        "log_base": bases[bookings.dest].astype(np.float32),
        "nights": bookings.nights,
    }


def batch_tensors(enc: dict[str, np.ndarray], rows: np.ndarray) -> tuple[torch.Tensor, ...]:
    """The network's inputs for bookings `rows` of `encode`'s output, padded to their longest stay."""
    width = int(enc["nights"][rows].max())
    idx = enc["night_index"][rows, :width]
    return (
        torch.from_numpy(enc["dest"][rows]),
        torch.from_numpy(enc["table"][idx]),
        torch.from_numpy(enc["mask"][rows, :width]),
        torch.from_numpy(enc["stay_x"][rows]),
        torch.from_numpy(enc["log_base"][rows]),
    )


def quantiles(pricer: HotelPricer, bookings: Bookings, batch_size: int = 4096) -> np.ndarray:
    """[n, 3] predicted q10/q50/q90 nightly prices of generated bookings."""
    enc = encode(pricer, bookings)
    order = np.argsort(enc["nights"], kind="stable")  # similar lengths share a batch
    out = np.empty((len(bookings), len(QUANTILES)))
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            rows = order[s:s + batch_size]
            out[rows] = torch.exp(pricer.net(*batch_tensors(enc, rows))).double().numpy()
    return out


def evaluate(pricer: HotelPricer, bookings: Bookings) -> dict:
    """Accuracy of the median against the true and the observed prices, the interval's coverage
    and calibration, the mean confidence, and the median's MAPE per destination."""
    q = quantiles(pricer, bookings)
    true, price = bookings.true_price, bookings.price
    ape = np.abs(q[:, 1] - true) / true
    by_dest = {
        d: round(float(ape[bookings.dest == i].mean()), 5)
        for i, d in enumerate(bookings.calendar.destinations) if (bookings.dest == i).any()
    }
    return {
        "n": int(len(bookings)),
        "mape_median_vs_true": round(float(ape.mean()), 5),
        "p90_ape_median_vs_true": round(float(np.quantile(ape, 0.9)), 5),
        "mape_median_vs_observed": round(float((np.abs(q[:, 1] - price) / price).mean()), 5),
        "coverage_q10_q90": round(float(((price >= q[:, 0]) & (price <= q[:, 2])).mean()), 5),
        "share_below_q10": round(float((price < q[:, 0]).mean()), 5),
        "share_below_q50": round(float((price < q[:, 1]).mean()), 5),
        "share_below_q90": round(float((price < q[:, 2]).mean()), 5),
        "mean_confidence": round(float(confidence(q[:, 0], q[:, 1], q[:, 2]).mean()), 5),
        "mape_by_destination": by_dest,
    }
