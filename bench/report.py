"""Benchmark results: one JSON file and one markdown table per benchmark, in bench/results/; and the
local stack the benchmarks run on."""

from __future__ import annotations

import json
import os
import platform
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.localstack import LocalStack

RESULTS = Path(__file__).resolve().parent / "results"
# Keyless benchmark clients send far more than the default anonymous budget allows.
UNLIMITED_ANONYMOUS = {"RATE_LIMIT_ANONYMOUS": "1000000/hour;100000/minute"}


@contextmanager
def bench_stack(prefix: str, env: dict | None = None) -> Iterator[LocalStack]:
    """A LocalStack in a fresh temp folder (`stack.root`) with its own Redis. Exports UPLOAD_DIR under
    that folder, 1 s heartbeats with a 5 s TTL and `env` to this process and every process started
    after; stops every process the stack started on the way out."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update({"UPLOAD_DIR": str(root / "uploads"), "HEARTBEAT_INTERVAL_S": "1", "HEARTBEAT_TTL_S": "5", **(env or {})})
    stack = LocalStack(root)
    try:
        stack.start_redis()
        yield stack
    finally:
        stack.stop_all()


@contextmanager
def pinned(cpus: set[int]):
    """Run the block (and every process it starts: ffmpeg children) on these cores only."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def cpu_times() -> tuple[float, float]:
    """(this process's CPU s, finished children's CPU s): ffmpeg is a child that has been waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def write(name: str, data: dict, rows: list[tuple[str, str, str]], title: str, notes: str = "") -> Path:
    """rows: (metric, value, target or comment)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine(), **data}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [f"### {title}", "", "| metric | value | target / note |", "|---|---|---|"]
    lines += [f"| {m} | {v} | {t} |" for m, v, t in rows]
    if notes:
        lines += ["", notes]
    md = RESULTS / f"{name}.md"
    md.write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    return md
