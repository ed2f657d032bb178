"""Helpers of the integration tests: worker processes started and stopped for a test or a module,
generated clips, job polling, the premium request that overtakes a backlog, RabbitMQ's
availability. (Problem bodies, the app layer's and the real API's: tests/appkit.py's problem().)"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import requests

from brigade import jobs
from devtools import procs
from devtools.localstack import LocalStack, Worker, wait_for_job

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"


@dataclass
class WorkerSpec:
    """One `celery worker` to start: its queue(s), pool kind (None: the one its queue declares),
    name prefix and extra environment."""

    queues: str = "predict"
    pool: str | None = None
    prefix: str = "w"
    env: dict | None = None


PREDICT = WorkerSpec("predict")
EVENTS = WorkerSpec("events")
CONTROL = WorkerSpec("control", pool="threads", prefix="control")  # planning, merges, webhooks
GPU = WorkerSpec("segments", pool="solo", prefix="gpu")  # one shard worker of the sharded path


class Workers:
    """The worker processes of one test or one module: `start(*specs)` starts them together and
    waits until each is ready (its heartbeat in the session's Redis) unless `ready=False`; every
    one is stopped when the `with` block ends (a fixture's teardown), whatever the test did.

    A module's workers: `with Workers(stack) as ws: yield ws.start(PREDICT)`; a test's: the
    `workers` fixture (conftest)."""

    def __init__(self, stack: LocalStack):
        self.stack = stack
        self.started: list[Worker] = []

    def start(self, *specs: str | WorkerSpec, env: dict | None = None, ready: bool = True) -> list[Worker]:
        """A worker per spec (a queue name or a WorkerSpec), `env` added to each one's own."""
        started = []
        for spec in specs:
            spec = WorkerSpec(spec) if isinstance(spec, str) else spec
            worker_env = {**(env or {}), **(spec.env or {})} or None
            started.append(self.stack.start_worker(spec.queues, pool=spec.pool, prefix=spec.prefix, env=worker_env,
                                                   wait_ready=False))
            self.started.append(started[-1])
        if ready:
            for worker in started:
                self.stack.wait_ready(worker)
        return started

    def one(self, spec: str | WorkerSpec = PREDICT, *, env: dict | None = None, ready: bool = True) -> Worker:
        return self.start(spec, env=env, ready=ready)[0]

    def events_pool(self, name: str, max_procs: int, min_procs: int, env: dict | None = None) -> Worker:
        """The autoscaled `events` pool (LocalStack.start_events_worker), named `name`@this host."""
        self.started.append(self.stack.start_events_worker(f"{name}@{os.uname().nodename}", max_procs, min_procs, env))
        return self.started[-1]

    def stop(self, *workers: Worker) -> None:
        """Stop these now (warm shutdown, in parallel); the rest at the end."""
        procs.stop_many([worker.proc for worker in workers])

    def stop_all(self) -> None:
        self.stop(*reversed(self.started))

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()


class ClipFactory:
    """Every test's clips, each rendered once per session under one folder: generated, labeled
    scenes (`clip`) and ffmpeg's test source (`lavfi`). The `clips` fixture (conftest) is the
    session's; its `clip` fixture is the app layer's small upload."""

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

    def lavfi(self, name: str, **kwargs) -> Path:
        """ffmpeg's lavfi test source (tests/media_samples.lavfi_video's options): no labels."""
        from tests.media_samples import lavfi_video

        key = ("lavfi", name)
        if key not in self._made:
            (self.root / "lavfi").mkdir(exist_ok=True)
            self._made[key] = lavfi_video(self.root / "lavfi" / f"{name}.mp4", **kwargs)
        return self._made[key]


def submit(api: str, path: Path, **params) -> requests.Response:
    with open(path, "rb") as fh:
        return requests.post(f"{api}/v1/videos", files={"video": (path.name, fh, "video/mp4")}, params=params, timeout=60)


def wait_job(api: str, job_id: str, timeout: float = 120.0, api_key: str | None = None) -> dict:
    """Poll with ?wait= until the job is terminal (with the key it was submitted with, if any)."""
    return wait_for_job(api, job_id, timeout, wait=5, http_timeout=30, api_key=api_key)


def finished(job_id: str, timeout: float = 60) -> dict:
    """The job's record once terminal, read from Redis; it must have succeeded."""
    record = jobs.subscribe_until_terminal(job_id, timeout)
    assert record and record["status"] == jobs.SUCCEEDED, record
    return record


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
