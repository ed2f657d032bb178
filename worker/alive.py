"""`python -m worker.alive <node>`: the liveness check of a worker, run by its container's health
check (docker-compose.yml) and its pod's liveness probe (deploy/k8s/worker-*.yaml). `<node>` is
the name before the `@` of the worker's `-n` (`gpu` for `-n gpu@%h`); `%h` is this host's name,
as Celery expands it. Prints one line saying why, and exits 0 (alive) or 1 (restart it).

Why not `celery inspect ping`: a `--pool=solo` worker (the segments pool) runs its task in the
consumer's own thread, so it answers no ping while a segment runs. A probe built on the ping
killed busy shard workers mid-segment; the redelivered segment was killed again, until the job
ended as poison. The worker's main process instead keeps a host heartbeat,
`<KEY_PREFIX>:hb-host:<node>@<host>` (brigade/heartbeats.py), refreshed by a thread of its own
every HEARTBEAT_INTERVAL_S with a TTL of HEARTBEAT_TTL_S (worker/heartbeat.py), busy or idle. It
lapses when that process is gone or frozen: then the worker is dead (exit 1).

A heartbeat thread outlives a consumer wedged in a task, which a ping would have caught; solo and
threads pools cannot enforce TASK_TIME_LIMIT_S. So a task of this worker still running well past
that hard limit (the `running` records of worker/tracking.py) is a wedged worker too (exit 1):
its restart redelivers the task, and MAX_TASK_ATTEMPTS bounds how often.

Redis not answering within a short timeout is not this worker's fault, and a restart would not
mend it but would kill the task it runs: exit 0, saying so (the same rule as the API's /healthz).
Works through Sentinel too (REDIS_SENTINELS): the client comes from brigade.redis_client.connect.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from brigade import heartbeats
from brigade.redis_client import TRANSIENT, connect
from brigade.settings import Settings, get_settings
from worker.tracking import running_key

#: Seconds one Redis command (or a Sentinel lookup) may take: the probe's own timeout is longer.
TIMEOUT_S = 2.0
#: Past TASK_TIME_LIMIT_S by this much, a task's worker is wedged. Generous: a prefork child killed
#: at the hard limit leaves its record until the reaper clears it, within a HEARTBEAT_TTL_S or two.
OVERRUN_GRACE_S = 60.0


@dataclass(frozen=True)
class Verdict:
    alive: bool
    reason: str


def worker_name(node: str, host: str | None = None) -> str:
    """`gpu` -> `gpu@<host>`, what Celery makes of `-n gpu@%h`; a full `name@host` stays as given."""
    host = host or socket.gethostname()
    return node.replace("%h", host) if "@" in node else f"{node}@{host}"


def check(name: str, client: redis.Redis, settings: Settings, now: float | None = None) -> Verdict:
    """Whether the worker `name` (`node@host`) lives, by its host heartbeat and its running tasks."""
    try:
        left_ms = heartbeats.host_heartbeat_left_ms(name, client)
        if left_ms <= 0:
            return Verdict(False, f"{name}: dead: no host heartbeat for over HEARTBEAT_TTL_S={settings.HEARTBEAT_TTL_S:g} s "
                                  f"({heartbeats.host_key(name)})")
        overrun = _overrun_task(name, client, settings, time.time() if now is None else now)
    except TRANSIENT as exc:
        return Verdict(True, f"{name}: unknown, Redis did not answer ({exc.__class__.__name__}): "
                             "not a reason to restart this worker")
    if overrun:
        return Verdict(False, overrun)
    age_s = settings.HEARTBEAT_TTL_S - left_ms / 1000
    return Verdict(True, f"{name}: alive, host heartbeat {max(age_s, 0.0):.1f} s old")


def _overrun_task(name: str, client: redis.Redis, settings: Settings, now: float) -> str | None:
    """Why the worker is wedged (a task of it running past its hard time limit), or None."""
    limit_s = settings.TASK_TIME_LIMIT_S + OVERRUN_GRACE_S
    for task_id, raw in client.hgetall(running_key()).items():
        entry = json.loads(raw)
        if entry.get("hostname") == name and entry.get("process") and now - entry["started"] > limit_s:
            return (f"{name}: wedged: task {task_id} ({entry.get('task')}) has run {now - entry['started']:.0f} s, "
                    f"past TASK_TIME_LIMIT_S={settings.TASK_TIME_LIMIT_S} s")
    return None


def probe_client(settings: Settings) -> redis.Redis:
    """One try per command within TIMEOUT_S: a probe must answer before its own timeout."""
    return connect(settings.store_url, socket_timeout=TIMEOUT_S, decode_responses=True, retry=Retry(NoBackoff(), 0))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m worker.alive <node>   (e.g. gpu, for a worker started with -n gpu@%h)", file=sys.stderr)
        return 2
    settings = get_settings()
    verdict = check(worker_name(args[0]), probe_client(settings), settings)
    print(verdict.reason)
    return 0 if verdict.alive else 1


if __name__ == "__main__":
    sys.exit(main())
