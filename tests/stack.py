"""Real processes for the integration tests: workers, the API, and generated clips."""

from __future__ import annotations

import itertools
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests

from brigade import heartbeats, procs

_names = itertools.count(1)


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Stack:
    def __init__(self, root: Path):
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []

    def start_worker(self, queues: str = "predict", *, pool: str = "prefork", wait_ready: bool = True,
                     env: dict | None = None, prefix: str = "w") -> Worker:
        name = f"{prefix}{next(_names)}@test"
        log = self.logs / f"{name}.log"
        proc = procs.spawn(procs.worker_command(queues, name, pool=pool), env, log)
        self.procs.append(proc)
        worker = Worker(name, proc, log)
        if wait_ready:
            self.wait_ready(worker)
        return worker

    def wait_ready(self, worker: Worker, timeout: float = 90.0) -> dict:
        def _ready():
            if worker.proc.poll() is not None:
                raise RuntimeError(f"worker {worker.name} exited:\n{worker.log_text()[-3000:]}")
            return next((r for r in heartbeats.list_replicas(ready_only=True) if r["hostname"] == worker.name), None)

        return procs.wait_until(_ready, timeout, what=f"worker {worker.name} ready")

    def start_api(self, env: dict | None = None) -> str:
        port = procs.free_port()
        proc = procs.spawn(procs.api_command(port), env, self.logs / f"api-{port}.log")
        self.procs.append(proc)
        procs.wait_for_port(port)
        return f"http://127.0.0.1:{port}"

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            procs.stop(proc, timeout=10)


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
