"""The chaos run: a stack of its own (LocalStack: a private Redis with AOF on, predict replicas, two
shard workers, the control worker, the autoscaled events pool, the API) and seven phases, each
bounded in count and time, loopback only. Every phase writes what it injected and what happened to
the Ledger; the end waits for every job the run's Redis holds to reach a terminal status (what does
not within the bound is *lost*)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import requests

from devtools import procs
from devtools.chaos import clips, hostile
from devtools.chaos.ledger import Ledger

UPLOAD_LIMIT = 16 * 1024 * 1024
MAX_SECONDS = 150.0


@dataclass
class Scale:
    """Counts of one run: `full` for `make chaos`, `tiny` for the smoke test."""

    video_jobs: int = 8
    sharded_jobs: int = 3
    hotel_requests: int = 40
    stall_s: float = 10.0
    fuzz_examples: int = 25
    fuzz_max_time_s: int = 150
    long_polls: int = 100
    dribblers: int = 100
    slow_clients_s: float = 10.0
    drain_s: float = 300.0


FULL = Scale()
TINY = Scale(video_jobs=2, sharded_jobs=1, hotel_requests=4, stall_s=3.0, fuzz_examples=2, fuzz_max_time_s=30,
             long_polls=5, dribblers=5, slow_clients_s=2.0, drain_s=120.0)


def stack_env(root: Path, redis_url: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        "UPLOAD_DIR": str(root / "uploads"),
        "TAGGER_MODEL": "synth-tagger",
        "HEARTBEAT_INTERVAL_S": "0.5",
        "HEARTBEAT_TTL_S": "2.5",
        "MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
        "MAX_VIDEO_SECONDS": str(MAX_SECONDS),
        "MAX_VIDEO_WIDTH": "1920",
        "MAX_VIDEO_HEIGHT": "1080",
        "MAX_TASK_ATTEMPTS": "2",
        "MAX_WAIT_S": "10",
        "SEGMENT_MIN_S": "3",
        # Every job's deadline inside the run's bound, so even a job no worker will ever end is
        # failed by the watchdog (a reason), not left running (lost). Time limits stay under it.
        "JOB_TIMEOUT_S": "240",
        "SHARDED_JOB_TIMEOUT_S": "240",
        "TASK_SOFT_TIME_LIMIT_S": "150",
        "TASK_TIME_LIMIT_S": "180",
        "EVENTS_SIMULATED_IO_MS": "50",
        "RATE_LIMIT_ANONYMOUS": "1000000/hour",
        "PYTHONUNBUFFERED": "1",
    }


def job_ids() -> list[str]:
    """Every job the run's Redis holds (`<prefix>:job:<id>`, not its side keys)."""
    from brigade import job_keys
    from brigade.redis_client import redis_client

    head = job_keys.records_prefix()
    return [k[len(head):] for k in redis_client().scan_iter(match=head + "*", count=1000) if ":" not in k[len(head):]]


def hotel_stay(i: int) -> dict:
    """The `i`-th hotel-prices request of a run: stays that differ in dates and guests."""
    check_in = date.today() + timedelta(days=10 + i % 60)
    return {"destination": "paris", "check_in": check_in.isoformat(),
            "check_out": (check_in + timedelta(days=3)).isoformat(), "guests": 1 + i % 3}


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    return out


def _pid_of(record: dict | None) -> int | None:
    worker = (record or {}).get("worker") or ""
    tail = worker.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


class Chaos:
    def __init__(self, root: Path, scale: Scale = FULL, log=print):
        self.root = root
        self.scale = scale
        self.log = log
        self.ledger = Ledger()
        self.workers: dict[str, list] = {}
        self.redis_proc: subprocess.Popen | None = None
        self.api = ""

    # --- the stack ---------------------------------------------------------------------------------

    def start(self) -> None:
        from devtools.localstack import LocalStack

        self.stack = LocalStack(self.root)
        self.port = procs.free_port()
        self.env = stack_env(self.root, f"redis://127.0.0.1:{self.port}/0")
        os.environ.update(self.env)  # this process reads job records and heartbeats from the same Redis
        self._start_redis()
        for pool in ("predict", "predict"):
            self.add_worker(pool, wait_ready=False)
        for _ in range(2):
            self.add_worker("segments", wait_ready=False)
        self.add_worker("control", wait_ready=False)
        self.add_events()
        self.api = self.stack.start_api(env=self.env, workers=2)
        for kind in ("predict", "segments", "control"):
            for worker in self.workers[kind]:
                self.stack.wait_ready(worker, timeout=180)
        procs.wait_until(lambda: requests.get(f"{self.api}/readyz", timeout=10).status_code == 200, 120, what="readyz")

    def _start_redis(self) -> None:
        """The run's Redis, with its AOF (the restart phase starts it again on the same port)."""
        self.stack.start_redis(self.port, persist=True)
        self.redis_proc = self.stack.redis_proc

    def add_worker(self, kind: str, *, wait_ready: bool = True, env: dict | None = None, prefix: str | None = None):
        pool = {"segments": "solo", "control": "threads"}.get(kind, "prefork")
        worker = self.stack.start_worker(kind, pool=pool, wait_ready=wait_ready, env={**self.env, **(env or {})},
                                         prefix=prefix or kind[:4])
        self.workers.setdefault(kind, []).append(worker)
        return worker

    def add_events(self):
        name = f"events{len(self.workers.get('events', []))}@{os.uname().nodename}"
        worker = self.stack.start_events_worker(name, max_procs=3, min_procs=1, env=self.env)
        self.workers.setdefault("events", []).append(worker)
        return worker

    def stop(self) -> None:
        if hasattr(self, "stack"):
            self.stack.stop_all()

    # --- helpers -----------------------------------------------------------------------------------

    def submit(self, path: Path, **params) -> str | None:
        with open(path, "rb") as fh:
            response = self.ledger.http("POST", f"{self.api}/v1/videos", files={"video": (path.name, fh, "video/mp4")},
                                        params=params)
        return response.json()["job_id"] if response.status_code == 202 else None

    def hotel(self, i: int) -> requests.Response:
        return self.ledger.http("POST", f"{self.api}/v1/hotel-prices", json=hotel_stay(i))

    def clip(self, name: str, seed: int, duration_s: float, width: int = 320, height: int = 240) -> Path:
        return clips.clip(self.root / "clips", name, seed, duration_s, width, height)

    def job(self, job_id: str) -> dict | None:
        from brigade import jobs

        return jobs.get_job(job_id)

    def live_jobs(self) -> int:
        from brigade import jobs

        ids = job_ids()
        return sum(1 for i in ids if (jobs.get_job(i) or {}).get("status") not in jobs.TERMINAL)

    def any_running(self, ids: list[str | None], timeout: float) -> str | None:
        """The first of `ids` seen running within `timeout` (None once all are terminal, or on timeout)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            records = {i: self.job(i) or {} for i in ids if i}
            running = next((i for i, r in records.items() if r.get("status") == "running"), None)
            if running or all(r.get("status") in ("succeeded", "failed") for r in records.values()):
                return running
            time.sleep(0.02)
        return None

    def kill_holder(self, kind: str, job_id: str | None, *, replace: bool = True) -> None:
        """SIGKILL the whole process group of the `kind` worker running `job_id` (else its first one),
        and start a replacement."""
        holder = ((self.job(job_id) or {}).get("worker") or "").rsplit(":", 1)[0] if job_id else ""
        index = next((n for n, w in enumerate(self.workers[kind]) if w.name == holder), 0)
        worker = self.workers[kind].pop(index)
        in_flight = self.live_jobs()
        procs.kill(worker.proc)
        self.ledger.fault("SIGKILL process group", f"{kind} worker {worker.name}", jobs_in_flight=in_flight,
                          holding_a_running_job=bool(holder and holder == worker.name))
        if replace:
            self.add_worker(kind, wait_ready=False)

    def ensure_predict(self) -> None:
        if not self.workers.get("predict"):
            for _ in range(2):
                self.add_worker("predict", wait_ready=False)

    def replicas(self, queue: str) -> list[dict]:
        from brigade import heartbeats

        return heartbeats.list_replicas(queue)

    # --- phases ------------------------------------------------------------------------------------

    def phase(self, name: str):
        self.ledger.phase = name
        self.log(f"[chaos] === {name} ===")
        return self.ledger.record(name, started_s=round(time.time() - self.ledger.started, 1))

    def phase_kills(self) -> None:
        s = self.scale
        rec = self.phase("1 load + SIGKILL")
        clips = [self.clip(f"load-{i}", seed=100 + i, duration_s=12.0) for i in range(s.video_jobs)]
        long_clips = [self.clip(f"shard-{i}", seed=200 + i, duration_s=30.0) for i in range(s.sharded_jobs)]
        ids: list[str] = []
        with ThreadPoolExecutor(8) as pool:
            hotels = [pool.submit(self.hotel, i) for i in range(s.hotel_requests)]
            for path in clips:
                ids.append(self.submit(path))
            for path in long_clips:
                ids.append(self.submit(path, mode="sharded"))
            # one worker of each pool, each while jobs are in flight
            holder = self.any_running(ids[: len(clips)], 30)
            rec["predict_job_running_when_killed"] = bool(holder)
            self.kill_holder("predict", holder)
            sharded = self.any_running(ids[len(clips):], 30)
            rec["sharded_job_running_when_killed"] = bool(sharded)
            self.kill_holder("segments", None)
            self.kill_holder("control", None)
            events = self.replicas("events")
            if events:
                pid = events[0]["pid"]
                os.kill(pid, signal.SIGKILL)
                self.ledger.fault("SIGKILL pool child", f"events pool child pid {pid}", jobs_in_flight=self.live_jobs())
            hotel_statuses = [f.result().status_code for f in hotels]
        rec.update(jobs_submitted=len([i for i in ids if i]),
                   hotel_statuses={str(c): hotel_statuses.count(c) for c in sorted(set(hotel_statuses))})
        rec["job_ids"] = [i for i in ids if i]

    def phase_redis(self) -> None:
        s = self.scale
        rec = self.phase("2 Redis stall + restart")
        ids = [self.submit(self.clip(f"redis-{i}", seed=300 + i, duration_s=12.0)) for i in range(max(2, s.video_jobs // 2))]
        self.any_running(ids, 30)
        during: list[int] = []
        with self.ledger.redis_fault():
            os.kill(self.redis_proc.pid, signal.SIGSTOP)
            self.ledger.fault("SIGSTOP", f"redis pid {self.redis_proc.pid}", seconds=s.stall_s, jobs_in_flight=len(ids))
            deadline = time.time() + s.stall_s
            while time.time() < deadline:
                for method, path in (("GET", f"/v1/jobs/{ids[0]}"), ("GET", "/healthz")):
                    try:
                        during.append(self.ledger.http(method, self.api + path, timeout=15).status_code)
                    except requests.RequestException:
                        during.append(-1)
                time.sleep(0.5)
            os.kill(self.redis_proc.pid, signal.SIGCONT)
        rec["stall_answers"] = {str(c): during.count(c) for c in sorted(set(during))}
        ids += [self.submit(self.clip(f"redis-b-{i}", seed=320 + i, duration_s=12.0)) for i in range(max(2, s.video_jobs // 2))]
        self.any_running(ids, 30)
        in_flight = self.live_jobs()
        during = []
        with self.ledger.redis_fault():
            self.redis_proc.send_signal(signal.SIGTERM)
            self.redis_proc.wait(30)
            self.ledger.fault("SIGTERM + restart", f"redis :{self.port} (AOF on)", jobs_in_flight=in_flight)
            for _ in range(4):
                try:
                    during.append(self.ledger.http("GET", f"{self.api}/v1/jobs/{ids[0]}", timeout=15).status_code)
                except requests.RequestException:
                    during.append(-1)
                time.sleep(0.5)
            self._start_redis()
            time.sleep(2)
        rec["restart_answers"] = {str(c): during.count(c) for c in sorted(set(during))}
        rec["job_ids"] = [i for i in ids if i]

    def phase_time_limit(self) -> None:
        """The predict replicas go; a worker with a 2 s soft / 5 s hard limit takes two jobs: one whose
        ffmpeg hangs (SIGSTOP: the soft limit must fail it with a reason) and one whose pool process
        hangs (SIGSTOP: the hard limit kills it; the job must still end)."""
        from brigade import jobs

        rec = self.phase("3 time limits")
        for worker in self.workers.pop("predict", []):
            procs.stop(worker.proc)
        limited = self.add_worker("predict", env={"TASK_SOFT_TIME_LIMIT_S": "2", "TASK_TIME_LIMIT_S": "5"}, prefix="limit")
        outcomes = {}
        for variant, seed in (("ffmpeg hangs (soft limit)", 400), ("task process hangs (hard limit)", 401)):
            job_id = self.submit(self.clip(f"limit-{seed}", seed=seed, duration_s=120.0, width=640, height=360))
            target = None
            deadline = time.time() + 30
            while time.time() < deadline and target is None:
                record = self.job(job_id) or {}
                if record.get("status") in ("succeeded", "failed"):
                    break
                pid = _pid_of(record) if record.get("status") == "running" else None
                if pid:
                    target = pid if "hard" in variant else next(iter(_children(pid)), None)
                time.sleep(0.005)
            if target:
                os.kill(target, signal.SIGSTOP)
                self.ledger.fault("SIGSTOP", f"{'pool process' if 'hard' in variant else 'ffmpeg'} pid {target}", job=job_id)
            record = jobs.subscribe_until_terminal(job_id, 30) or {}  # as it is then, ended or not
            outcomes[variant] = {"job_id": job_id, "stopped": bool(target), "status_30s_after": record.get("status"),
                                 "error": record.get("error")}
            if target and "hard" in variant:
                try:
                    os.kill(target, signal.SIGCONT)
                except ProcessLookupError:
                    pass
        rec["outcomes"] = outcomes
        self.workers["predict"].remove(limited)
        procs.stop(limited.proc)

    def phase_poison(self) -> None:
        """A worker whose pool process is SIGKILLed each time it starts one job (what an input that
        blows the process's memory does): after MAX_TASK_ATTEMPTS starts the job fails as poison."""
        rec = self.phase("4 poison message")
        worker = self.add_worker("predict", prefix="poison")
        job_id = self.submit(self.clip("poison", seed=500, duration_s=60.0, width=640, height=360))
        kills: list[int] = []
        deadline = time.time() + 90
        record: dict = {}
        while time.time() < deadline:
            record = self.job(job_id) or {}
            if record.get("status") in ("succeeded", "failed"):
                break
            pid = _pid_of(record) if record.get("status") == "running" else None
            if pid and pid not in kills:
                try:
                    os.kill(pid, signal.SIGKILL)
                    kills.append(pid)
                    self.ledger.fault("SIGKILL on start", f"poison worker's pool process pid {pid}", job=job_id)
                except ProcessLookupError:
                    pass
            time.sleep(0.005)
        rec.update(job_id=job_id, kills=len(kills), status=record.get("status"), error=record.get("error"))
        self.workers["predict"].remove(worker)
        procs.stop(worker.proc)

    def phase_hostile(self) -> None:
        rec = self.phase("5 hostile media + bad requests")
        media = hostile.make_media(self.root / "hostile", UPLOAD_LIMIT, MAX_SECONDS)
        queued = self.submit(self.clip("queued", seed=600, duration_s=4.0))  # no predict replica now: stays queued
        self.queued_job = queued
        summary = hostile.run(self.api, self.ledger, hostile.cases(media, UPLOAD_LIMIT), queued)
        rec.update(summary)

    def phase_fuzz(self) -> None:
        rec = self.phase("6 OpenAPI fuzzing (schemathesis)")
        self.ensure_predict()
        for worker in self.workers["predict"]:
            self.stack.wait_ready(worker, timeout=180)
        rec.update(fuzz(self.api, self.root / "fuzz", self.scale.fuzz_examples, self.scale.fuzz_max_time_s))
        # schemathesis' requests do not go through the Ledger: its 5xx are read from the API's access log
        for line in self.api_log_lines():
            m = re.search(r'"(\S+) (\S+) HTTP/[\d.]+" (5\d\d) .*"schemathesis', line)
            if m:
                self.ledger.statuses[int(m.group(3))] += 1
                self.ledger.server_errors.append({"phase": self.ledger.phase, "method": m.group(1), "url": m.group(2)[:300],
                                                  "status": int(m.group(3)), "body": "see the API log / schemathesis.log"})

    def api_log_lines(self) -> list[str]:
        return [line for log in sorted(self.stack.logs.glob("api-*.log")) for line in log.read_text(errors="replace").splitlines()]

    def phase_slow_clients(self) -> None:
        s = self.scale
        rec = self.phase("7 slow clients")
        rec["polled_job_status"] = (self.job(self.queued_job) or {}).get("status")  # queued: no predict replica now
        rec.update(slow_clients(self.api, self.queued_job, s.long_polls, s.dribblers, s.slow_clients_s, self.ledger))

    def drain(self) -> dict:
        """Predict replicas back; every job the run's Redis holds must reach a terminal status."""
        from brigade import jobs

        self.phase("drain")
        self.ensure_predict()
        ids = job_ids()
        deadline = time.monotonic() + self.scale.drain_s
        for i in ids:  # one bound for them all
            jobs.subscribe_until_terminal(i, deadline - time.monotonic())
        records = {i: jobs.get_job(i) or {} for i in ids}
        by_status: dict[str, int] = {}
        reasons: dict[str, int] = {}
        samples: dict[str, list] = {}
        lost = []
        for job_id, record in records.items():
            status = record.get("status", "missing")
            by_status[status] = by_status.get(status, 0) + 1
            if status == "failed":
                error = record.get("error") or {}
                kind = error.get("type", "unknown")
                reasons[kind] = reasons.get(kind, 0) + 1
                if len(samples.setdefault(kind, [])) < 3:
                    samples[kind].append({"job_id": job_id, "kind": record.get("kind"), "mode": record.get("mode"),
                                          "detail": str(error.get("detail"))[:300]})
            elif status not in jobs.TERMINAL:
                lost.append({"job_id": job_id, "status": status, "kind": record.get("kind"), "mode": record.get("mode")})
        missing = sorted(self.ledger.accepted - set(ids))  # accepted by the API, no record at all
        lost += [{"job_id": i, "status": "no record"} for i in missing]
        return {"jobs_accepted": len(ids) + len(missing), "succeeded": by_status.get("succeeded", 0),
                "failed": by_status.get("failed", 0), "failed_by_reason": dict(sorted(reasons.items())),
                "failed_samples": samples,
                "lost": len(lost), "lost_jobs": lost[:20], "drain_bound_s": self.scale.drain_s}


# --- phase 6: schemathesis -----------------------------------------------------------------------------


def fuzz(api: str, root: Path, examples: int, max_time_s: int) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    report = root / "report.json"
    junit = root / "junit.xml"
    cmd = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{api}/openapi.json", "--url", api,
           "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
           "response_headers_conformance", "--max-examples", str(examples), "--max-time", str(max_time_s),
           "--request-timeout", "30", "--seed", "12", "--workers", "4", "--no-shrink", "--continue-on-failure",
           "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all",
           "--report", "junit", "--report-junit-path", str(junit), "--warnings", "off"]
    started = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=max_time_s + 120, cwd=root)  # its .schemathesis/ cache there
    text = out.stdout + out.stderr
    (root / "schemathesis.log").write_text(text)
    result = {"command": " ".join(cmd[1:]).replace(api, "<api>"), "exit_code": out.returncode,
              "wall_s": round(time.time() - started, 1)}
    result.update(_parse_junit(junit) if junit.exists() else {"junit": "missing"})
    result["failures"] = _parse_failures(text)
    m = re.search(r"Test cases:\s*\n?\s*(\d+) generated", text)
    if m:
        result["cases_generated"] = int(m.group(1))
    m = re.search(r"(\d+) generated, (\d+) found (\d+) unique failures", text)
    if m:
        result["unique_failures"] = int(m.group(3))
    result["summary_tail"] = text.strip().splitlines()[-25:]
    _ = report
    return result


def _parse_failures(text: str) -> list[dict]:
    """Each failing check of schemathesis' report: the operation, the check, what it received, the curl line."""
    failures: list[dict] = []
    operation = None
    for block in re.split(r"\n_{3,} (.+?) _{3,}\n", text)[1:]:
        if operation is None:
            operation = block
            continue
        curl = re.search(r"^\s*(curl .+)$", block, re.M)
        for check in re.findall(r"^- (ST\d+ .+)$", block, re.M):
            received = re.search(r"^\[(\d{3})\] ", block, re.M)
            failures.append({"operation": operation, "check": check.strip(), "status": int(received.group(1)) if received else None,
                             "reproduce": (curl.group(1)[:600] if curl else "")})
        operation = None
    return failures


def _parse_junit(path: Path) -> dict:
    import xml.etree.ElementTree as ET

    tree = ET.parse(path)
    operations, failures = 0, []
    for case in tree.iter("testcase"):
        operations += 1
        for bad in list(case.findall("failure")) + list(case.findall("error")):
            failures.append({"operation": case.get("name"), "message": (bad.get("message") or bad.text or "")[:1500]})
    return {"operations": operations, "operations_failed": len({f["operation"] for f in failures}), "failures": failures}


# --- phase 7: slow clients ------------------------------------------------------------------------------


def slow_clients(api: str, job_id: str, long_polls: int, dribblers: int, seconds: float, ledger: Ledger) -> dict:
    """Three windows of `seconds` each: the long-polls alone, the header dribblers alone, both; /healthz
    sampled on a fresh connection every 0.1 s with a 5 s timeout (a timed-out sample counts 5000 ms)."""
    baseline = _sample_healthz(api, 2.0, ledger)
    out = {"long_polls": long_polls, "dribblers": dribblers, "seconds_per_window": seconds,
           "healthz_idle_p50_ms": baseline["p50_ms"], "windows": {}}
    for name, polls, dribs in (("long-polls", long_polls, 0), ("dribblers", 0, dribblers), ("both", long_polls, dribblers)):
        out["windows"][name] = _slow_window(api, job_id, polls, dribs, seconds, ledger)
    worst = max(w["healthz"]["worst_ms"] for w in out["windows"].values())
    out["healthz_worst_ms"] = worst
    out["healthz_timeouts"] = sum(w["healthz"]["timeouts"] for w in out["windows"].values())
    return out


def _sample_healthz(api: str, seconds: float, ledger: Ledger, timeout: float = 5.0) -> dict:
    samples, timeouts, other = [], 0, 0
    deadline = time.time() + seconds
    while time.time() < deadline:
        t = time.perf_counter()
        try:
            code = requests.get(f"{api}/healthz", timeout=timeout).status_code
            ledger.statuses[code] += 1
            other += code != 200
        except requests.Timeout:
            timeouts += 1
        except requests.RequestException:
            other += 1
        samples.append((time.perf_counter() - t) * 1000)
        time.sleep(0.1)
    samples.sort()
    return {"samples": len(samples), "timeouts": timeouts, "errors": other,
            "p50_ms": round(samples[len(samples) // 2], 1), "p99_ms": round(samples[int(len(samples) * 0.99)], 1),
            "worst_ms": round(samples[-1], 1)}


def _slow_window(api: str, job_id: str, long_polls: int, dribblers: int, seconds: float, ledger: Ledger) -> dict:
    from urllib.parse import urlsplit

    host, port = urlsplit(api).hostname, urlsplit(api).port
    stop = threading.Event()
    lock = threading.Lock()
    poll_answers: dict[str, int] = {}
    dribble_end: dict[str, int] = {}

    def _count(table: dict, what: str) -> None:
        with lock:
            table[what] = table.get(what, 0) + 1

    def _poll():
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    response = session.get(f"{api}/v1/jobs/{job_id}", params={"wait": 10}, timeout=30)
                    ledger.note("GET", "/v1/jobs/<id>?wait=10", response)
                    _count(poll_answers, str(response.status_code))
                except requests.RequestException as exc:
                    _count(poll_answers, exc.__class__.__name__)
                    stop.wait(0.5)

    request = f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: " + "a" * 4000

    def _dribble():
        """A byte of headers every 0.2 s; dropped by the server, it connects again (as slowloris does)."""
        while not stop.is_set():
            try:
                sock = socket.create_connection((host, port), timeout=5)
            except OSError as exc:
                _count(dribble_end, f"connect failed: {exc.__class__.__name__}")
                stop.wait(0.2)
                continue
            with sock:
                for ch in request:
                    if stop.is_set():
                        break
                    try:
                        sock.sendall(ch.encode())
                    except OSError:
                        _count(dribble_end, "dropped by the server, reconnected")
                        break
                    stop.wait(0.2)

    threads = [threading.Thread(target=_poll, daemon=True) for _ in range(long_polls)]
    threads += [threading.Thread(target=_dribble, daemon=True) for _ in range(dribblers)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    healthz = _sample_healthz(api, seconds, ledger)
    stop.set()
    for t in threads:
        t.join(40)
    time.sleep(1.0)  # the server lets go of the closed connections
    return {"healthz": healthz, "long_poll_answers": dict(sorted(poll_answers.items())),
            "dribbler_connections": dict(sorted(dribble_end.items()))}


def run(scale: Scale = FULL, root: Path | None = None, phases: tuple[str, ...] = ("kills", "redis", "time_limit", "poison",
                                                                                    "hostile", "slow_clients", "fuzz")) -> dict:
    root = root or Path(tempfile.mkdtemp(prefix="brigade-chaos-"))
    chaos = Chaos(root, scale)
    started = time.time()
    try:
        chaos.start()
        chaos.ledger.record("setup", stack_ready_s=round(time.time() - started, 1))
        for name in phases:
            getattr(chaos, f"phase_{name}")()
        totals = chaos.drain()
    finally:
        chaos.stop()
    ledger = chaos.ledger
    hostile_rec = ledger.phases.get("5 hostile media + bad requests", {})
    fuzz_rec = ledger.phases.get("6 OpenAPI fuzzing (schemathesis)", {})
    slow_rec = ledger.phases.get("7 slow clients", {})
    result = {
        "wall_s": round(time.time() - started, 1), "cpus": os.cpu_count(), "load_avg_start": None,
        "faults_injected": len(ledger.faults), "faults": ledger.faults, **totals,
        "hostile_tried": hostile_rec.get("tried", 0), "hostile_refused_by_status": hostile_rec.get("by_status", {}),
        "hostile_unexpected": hostile_rec.get("unexpected", []),
        "fuzz_cases": fuzz_rec.get("cases_generated"), "fuzz_operations": fuzz_rec.get("operations"),
        "fuzz_failures": fuzz_rec.get("failures", []),
        "server_errors": len(ledger.server_errors), "server_error_samples": ledger.server_errors[:20],
        "expected_503_during_redis_faults": ledger.expected_503,
        "http_statuses": {str(k): v for k, v in sorted(ledger.statuses.items(), key=lambda kv: str(kv[0]))},
        "healthz_worst_ms_under_slow_clients": slow_rec.get("healthz_worst_ms"),
        "healthz_timeouts_under_slow_clients": slow_rec.get("healthz_timeouts"),
        "phases": ledger.phases, "logs": str(root / "logs"), "scale": scale.__dict__,
    }
    (root / "result.json").write_text(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    print(json.dumps(run(), indent=1, default=str))
