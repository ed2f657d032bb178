"""Helpers of the integration tests: the local stack, generated clips, job polling."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import requests

from brigade import procs
from brigade.localstack import LocalStack

Stack = LocalStack


class ClipFactory:
    """Generated, labeled clips, each rendered once per session."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._made: dict = {}

    def clip(self, name: str, **kwargs):
        from models.synth import make_clip

        if name not in self._made:
            path = self.root / f"{name}.mp4"
            self._made[name] = (path, make_clip(path, **kwargs))
        return self._made[name]


def submit(api: str, path: Path, **params) -> requests.Response:
    with open(path, "rb") as fh:
        return requests.post(f"{api}/v1/videos", files={"video": (path.name, fh, "video/mp4")}, params=params, timeout=60)


def wait_job(api: str, job_id: str, timeout: float = 120.0) -> dict:
    """Poll with ?wait= until the job is terminal."""
    def _done():
        body = requests.get(f"{api}/v1/jobs/{job_id}", params={"wait": 5}, timeout=30).json()
        return body if body["status"] in ("succeeded", "failed") else None

    return procs.wait_until(_done, timeout, interval=0, what=f"job {job_id}")


def tag_labels(body: dict) -> set[str]:
    return {t["label"] for t in body["result"]["tags"]}


def hotel_stay(days_ahead: int = 30, nights: int = 3, destination: str = "paris", **extra) -> dict:
    """A valid POST /v1/hotel-prices body."""
    check_in = date.today() + timedelta(days=days_ahead)
    return {"destination": destination, "check_in": check_in.isoformat(),
            "check_out": (check_in + timedelta(days=nights)).isoformat(), "guests": 2, **extra}


def post_hotel_prices(api: str, body: dict, key: str | None = None) -> requests.Response:
    return requests.post(f"{api}/v1/hotel-prices", json=body, headers={"X-API-Key": key} if key else {}, timeout=60)


def premium_overtook(served: list[dict], window: int) -> int:
    """`served`: the anonymous requests' `served` records, then the premium one's, which arrived
    last. Asserts the premium one was taken before all but at most `window - 1` of them (what
    prefetch lets through as the pool grows) and returns how many were taken before it."""
    *anon, prem = served
    assert prem["tier"] == "premium" and all(s["tier"] == "anonymous" for s in anon)
    assert prem["seq"] > max(s["seq"] for s in anon)  # it arrived last ...
    taken_before = sum(s["started_seq"] < prem["started_seq"] for s in anon)
    assert taken_before <= window - 1, (taken_before, served)  # ... and was taken (nearly) first
    assert prem["started_seq"] < sorted(s["started_seq"] for s in anon)[window - 1]
    return taken_before
