"""Train the hotel price model and store it: `python -m models.build.train_hotel` (`make model`).

Generates bookings with `models.build.hotel_market.generate` (check-ins 2024-2027 for training, a held-out
year, 2028, from another seed), fits `HotelPriceNet` with the pinball loss of q10/q50/q90 on log
prices, evaluates the held-out year against the generator's true prices and refuses to store a
model that misses the targets (MAPE of the median <= 8%, q10-q90 coverage in [0.7, 0.9]).
Deterministic from --seed on one CPU thread; about a minute on one core.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

from models.build import hotel_market
from models.build.hotel_eval import batch_tensors, encode, evaluate
from models.hotel import catalog, data
from models.hotel.artifact import CONFIDENCE_FORMULA, CONFIG, WEIGHTS, HotelPricer
from models.hotel.model import QUANTILES, HotelPriceNet
from models.registry import write_artifact

NAME = "hotel-price"
TRAIN_PERIOD = (date(2024, 1, 1), date(2027, 12, 31))
HELDOUT_PERIOD = (date(2028, 1, 1), date(2028, 12, 31))
MAX_MAPE = 0.08
COVERAGE_RANGE = (0.70, 0.90)


def pinball_loss(log_q: torch.Tensor, log_y: torch.Tensor) -> torch.Tensor:
    """Mean pinball (quantile) loss of log_q [B, 3] against log_y [B]."""
    taus = torch.tensor(QUANTILES, dtype=log_q.dtype)
    diff = log_y[:, None] - log_q
    return torch.maximum(taus * diff, (taus - 1.0) * diff).mean()


def batches(nights: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of bookings with similar stay lengths (little padding)."""
    order = rng.permutation(len(nights))
    order = order[np.argsort(nights[order], kind="stable")]
    chunks = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def train(seed: int = 7, n_train: int = 150_000, n_heldout: int = 20_000, epochs: int = 12,
          batch_size: int = 512, lr: float = 3e-3, verbose: bool = True) -> tuple[HotelPricer, dict]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed + 1000)
    t0 = time.perf_counter()
    train_set = hotel_market.generate(n_train, seed, *TRAIN_PERIOD)
    heldout = hotel_market.generate(n_heldout, seed + 1, *HELDOUT_PERIOD)

    destinations = catalog.known_destinations()
    event_vocab = catalog.event_names()
    net = HotelPriceNet(len(destinations), len(data.night_feature_names(event_vocab)),
                        len(data.STAY_FEATURES))
    config = {
        "net": net.config,
        "destinations": destinations,
        "event_vocab": event_vocab,
        "night_features": data.night_feature_names(event_vocab),
        "stay_features": data.STAY_FEATURES,
        "quantiles": list(QUANTILES),
        "max_nights": catalog.MAX_NIGHTS,
        "max_guests": catalog.MAX_GUESTS,
        "catalog_fingerprint": catalog.catalog_fingerprint(),
    }
    pricer = HotelPricer(net, config, name=NAME)
    enc = encode(pricer, train_set)
    log_y = torch.from_numpy(np.log(train_set.price).astype(np.float32))

    steps = epochs * math.ceil(n_train / batch_size)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    for epoch in range(epochs):
        net.train()
        total, count = 0.0, 0
        for rows in batches(enc["nights"], batch_size, rng):
            loss = pinball_loss(net(*batch_tensors(enc, rows)), log_y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(rows)
            count += len(rows)
        if verbose:
            print(f"epoch {epoch + 1:2d}/{epochs}  pinball(log) {total / count:.5f}  "
                  f"{time.perf_counter() - t0:5.1f}s", flush=True)
    net.eval()
    metrics = evaluate(pricer, heldout)
    metrics["heldout_period"] = [d.isoformat() for d in HELDOUT_PERIOD]
    metrics["train_seconds"] = round(time.perf_counter() - t0, 1)
    info = {
        "n_train": n_train, "train_period": [d.isoformat() for d in TRAIN_PERIOD],
        "epochs": epochs, "batch_size": batch_size, "lr": lr,
        "parameters": sum(p.numel() for p in net.parameters()),
    }
    return pricer, {"metrics": metrics, "training": info}


def check(metrics: dict) -> list[str]:
    problems = []
    if not metrics["mape_median_vs_true"] <= MAX_MAPE:
        problems.append(f"held-out MAPE {metrics['mape_median_vs_true']:.4f} > {MAX_MAPE}")
    lo, hi = COVERAGE_RANGE
    if not lo <= metrics["coverage_q10_q90"] <= hi:
        problems.append(f"q10-q90 coverage {metrics['coverage_q10_q90']:.3f} outside [{lo}, {hi}]")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--store", default=None, help="model store (default: MODEL_STORE setting)")
    parser.add_argument("--n-train", type=int, default=150_000)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--no-default", action="store_true", help="do not move the DEFAULT pointer")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    if args.store is None:
        from brigade.settings import get_settings

        args.store = get_settings().MODEL_STORE
    pricer, report = train(seed=args.seed, n_train=args.n_train, epochs=args.epochs)
    metrics = report["metrics"]
    print(json.dumps(metrics, indent=2))
    problems = check(metrics)
    assert not problems, "model not stored: " + "; ".join(problems)

    with tempfile.TemporaryDirectory() as tmp:
        weights, config = Path(tmp) / WEIGHTS, Path(tmp) / CONFIG
        torch.save(pricer.net.state_dict(), weights)
        config.write_text(json.dumps(pricer.config, indent=2, ensure_ascii=False) + "\n")
        target = write_artifact(
            args.store, NAME, args.version, {WEIGHTS: weights, CONFIG: config},
            kind="hotel-price",
            metadata={
                "seed": args.seed,
                "metrics": metrics,
                "training": report["training"],
                "destinations": pricer.destinations,
                "input_spec": {
                    "predict": "predict(destination, check_in, check_out, guests, budget=None, today=None)",
                    "night_features": pricer.config["night_features"],
                    "stay_features": pricer.config["stay_features"],
                    "quantiles": list(QUANTILES),
                    "max_nights": catalog.MAX_NIGHTS,
                    "max_guests": catalog.MAX_GUESTS,
                    "currency": "USD",
                },
                "confidence": CONFIDENCE_FORMULA,
                "catalog_fingerprint": pricer.config["catalog_fingerprint"],
            },
            make_default=not args.no_default,
        )
    print(f"stored {NAME}@{args.version} in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
