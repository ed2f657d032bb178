"""Helpers of the integration tests: generated clips, job polling, problem bodies, the premium
request that overtakes a backlog, RabbitMQ's availability."""

from __future__ import annotations

import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import requests

from brigade import jobs
from devtools import procs
from devtools.localstack import wait_for_job

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


class ClipFactory:
    """Generated, labeled clips, each rendered once per session."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._made: dict = {}

    def clip(self, name: str, **kwargs):
        from models.build.synth import make_clip

        if name not in self._made:
            path = self.root / f"{name}.mp4"
            self._made[name] = (path, make_clip(path, **kwargs))
        return self._made[name]


def submit(api: str, path: Path, **params) -> requests.Response:
    with open(path, "rb") as fh:
        return requests.post(f"{api}/v1/videos", files={"video": (path.name, fh, "video/mp4")}, params=params, timeout=60)


def wait_job(api: str, job_id: str, timeout: float = 120.0, api_key: str | None = None) -> dict:
    """Poll with ?wait= until the job is terminal (with the key it was submitted with, if any)."""
    return wait_for_job(api, job_id, timeout, wait=5, http_timeout=30, api_key=api_key)


def finished(job_id: str, timeout: float = 60) -> dict:
    """The job's record once terminal, read from Redis; it must have succeeded."""
    record = jobs.wait_for_terminal(job_id, timeout)
    assert record and record["status"] == jobs.SUCCEEDED, record
    return record


def assert_problem(response: requests.Response, status: int, code: str) -> dict:
    """An application/problem+json body with this status and type `.../<code>`; returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status, body
    assert body["type"].endswith("/" + code), body
    assert body["title"] and body["detail"]
    return body


def tag_labels(body: dict) -> set[str]:
    return {t["label"] for t in body["result"]["tags"]}


def hotel_stay(days_ahead: int = 30, nights: int = 3, destination: str = "paris", **extra) -> dict:
    """A valid POST /v1/hotel-prices body."""
    check_in = date.today() + timedelta(days=days_ahead)
    return {"destination": destination, "check_in": check_in.isoformat(),
            "check_out": (check_in + timedelta(days=nights)).isoformat(), "guests": 2, **extra}


def post_hotel_prices(api: str, body: dict, key: str | None = None) -> requests.Response:
    return requests.post(f"{api}/v1/hotel-prices", json=body, headers={"X-API-Key": key} if key else {}, timeout=60)


def backlog_then_premium(api: str, depth: Callable[[], int], premium_key: str, where: str = "") -> list[requests.Response]:
    """12 anonymous POST /v1/hotel-prices queued (`depth()` reaches 12), then one with `premium_key`
    (`depth()` reaches 13); the 13 responses, the premium one last. `where` ends the wait messages."""
    with ThreadPoolExecutor(16) as pool:
        anonymous = [pool.submit(post_hotel_prices, api, hotel_stay(days_ahead=20 + i)) for i in range(12)]
        procs.wait_until(lambda: depth() == 12, 30, what=f"12 anonymous requests queued{where}")
        premium = pool.submit(post_hotel_prices, api, hotel_stay(days_ahead=90), premium_key)
        procs.wait_until(lambda: depth() == 13, 30, what=f"the premium request queued{where}")
        return [f.result() for f in anonymous] + [premium.result()]


def premium_overtook(records: list[dict], window: int) -> int:
    """`records`: the anonymous requests' job records, then the premium one's, which arrived last
    (`created_at`: the API's arrival order; `started_at`: when a pool process took it). Asserts
    the premium one was taken before all but at most `window - 1` of them (what prefetch lets
    through as the pool grows) and returns how many were taken before it."""
    *anon, prem = records
    assert prem["input"]["tier"] == "premium" and all(r["input"]["tier"] == "anonymous" for r in anon)
    assert prem["created_at"] > max(r["created_at"] for r in anon)  # it arrived last ...
    taken_before = sum(r["started_at"] < prem["started_at"] for r in anon)
    assert taken_before <= window - 1, (taken_before, [(r["input"]["tier"], r["started_at"]) for r in records])
    assert prem["started_at"] < sorted(r["started_at"] for r in anon)[window - 1]  # ... and was taken (nearly) first
    return taken_before


def rabbitmq_answers() -> str | None:
    """None when RabbitMQ accepts guest/guest on 127.0.0.1:5672, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1):
            pass
    except OSError as exc:
        return f"no RabbitMQ on 127.0.0.1:5672 ({exc})"
    from kombu import Connection

    try:
        with Connection(AMQP_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1, timeout=3)
    except Exception as exc:
        return f"RabbitMQ on 127.0.0.1:5672 refused {AMQP_URL}: {exc}"
    return None
