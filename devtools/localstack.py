"""The stack's processes on one machine, as the tests and the benchmarks start them: a private
Redis on a free port, `celery worker` processes, the API under gunicorn; and a client's wait for a job."""

from __future__ import annotations

import itertools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import requests

from brigade import heartbeats, jobs
from devtools import procs

_names = itertools.count(1)


@dataclass
class Worker:
    name: str
    proc: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class LocalStack:
    def __init__(self, root: Path):
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        self.redis_proc: subprocess.Popen | None = None  # the last start_redis()'s

    def start_redis(self, port: int | None = None, *, persist: bool = False) -> str:
        """A private redis-server (`persist`: with its AOF, so a restart on the same port keeps the
        data); exports REDIS_URL to this process and every process started after. Passwordless on
        purpose (loopback, a free port, throwaway data), unlike `make run`'s."""
        port = port or procs.free_port()
        self.redis_proc = procs.spawn(procs.redis_command(port, self.root, persist=persist), log_path=self.logs / "redis.log")
        self.procs.append(self.redis_proc)
        procs.wait_for_port(port)
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        return os.environ["REDIS_URL"]

    def start_worker(self, queues: str = "predict", *, pool: str | None = None, wait_ready: bool = True,
                     env: dict | None = None, prefix: str = "w", cpus: set[int] | None = None) -> Worker:
        """A one-slot worker (a test counts on one task at a time) of the pool kind its queue
        declares (`worker.work.POOLS`) unless `pool` says another. `cpus`: pin the worker (and every
        process it forks: pool children, ffmpeg) to these cores, as `docker run --cpuset-cpus` or
        Kubernetes' static CPU manager would."""
        name = f"{prefix}{next(_names)}@{os.uname().nodename}"
        log = self.logs / f"{name}.log"
        proc = procs.spawn(procs.worker_command(queues, name, pool=pool, concurrency=1), env, log)
        if cpus:
            os.sched_setaffinity(proc.pid, cpus)
        self.procs.append(proc)
        worker = Worker(name, proc, log)
        if wait_ready:
            self.wait_ready(worker)
        return worker

    def start_events_worker(self, name: str, max_procs: int, min_procs: int, env: dict | None = None) -> Worker:
        """The autoscaled `events` pool (`procs.events_worker_command`), named `name`; its readiness
        is its pool's (children start and stop with the load): not waited for here."""
        log = self.logs / f"{name}.log"
        proc = procs.spawn(procs.events_worker_command(name, max_procs, min_procs), env, log)
        self.procs.append(proc)
        return Worker(name, proc, log)

    def wait_ready(self, worker: Worker, timeout: float = 90.0) -> dict:
        def _ready():
            if worker.proc.poll() is not None:
                raise RuntimeError(f"worker {worker.name} exited:\n{worker.log_text()[-3000:]}")
            return next((r for r in heartbeats.list_replicas(ready_only=True) if r["hostname"] == worker.name), None)

        return procs.wait_until(_ready, timeout, what=f"worker {worker.name} ready")

    def start_api(self, env: dict | None = None, workers: int = 2) -> str:
        port = procs.free_port()
        proc = procs.spawn(procs.api_command(port, workers=workers), env, self.logs / f"api-{port}.log")
        self.procs.append(proc)
        procs.wait_for_port(port)
        return f"http://127.0.0.1:{port}"

    def stop(self, worker: Worker) -> None:
        procs.stop(worker.proc)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            procs.stop(proc, timeout=10)


def wait_for_job(api: str, job_id: str, timeout: float, *, wait: float = 30, http_timeout: float = 60,
                 session: requests.Session | None = None, api_key: str | None = None) -> dict:
    """GET /v1/jobs/<id>?wait=`wait` until the job is terminal; its body. TimeoutError once `timeout`
    seconds have passed (checked between requests, so one held request may run past it). A job
    submitted with a key is read with it (`api_key`)."""
    get = (session or requests).get
    headers = {"X-API-Key": api_key} if api_key else {}

    def _terminal():
        body = get(f"{api}/v1/jobs/{job_id}", params={"wait": wait}, headers=headers, timeout=http_timeout).json()
        return body if body["status"] in jobs.TERMINAL else None

    return procs.wait_until(_terminal, timeout, interval=0, what=f"job {job_id}")
