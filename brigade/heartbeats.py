"""Replica heartbeats in Redis: written by worker processes, read by the API's /readyz."""

from __future__ import annotations

import json

from brigade.redis_client import key, redis_client
from brigade.settings import get_settings


def _ttl_ms() -> int:
    return int(get_settings().HEARTBEAT_TTL_S * 1000)


def heartbeat_key(process: str) -> str:
    return key("hb", process)


def publish(process: str, body: dict) -> None:
    redis_client().set(heartbeat_key(process), json.dumps(body), px=_ttl_ms())


def remove(process: str) -> None:
    redis_client().delete(heartbeat_key(process))


def is_alive(process: str, incarnation: str | None = None) -> bool:
    """Whether `process` heartbeats; with `incarnation`, that very incarnation of it (a heartbeat
    that names none, from an older worker, is taken for it)."""
    beat = redis_client().get(heartbeat_key(process))
    return beat is not None and incarnation in (None, json.loads(beat).get("incarnation", incarnation))


def host_key(hostname: str) -> str:
    return key("hb-host", hostname)


def publish_host(hostname: str, incarnation: str = "1") -> None:
    """The worker's main process (the one holding broker messages) is alive, whatever its pool has.
    The value names its incarnation: a worker restarted under the same name (a container's restart)
    is another one (worker/heartbeat.py)."""
    redis_client().set(host_key(hostname), incarnation, px=_ttl_ms())


def remove_host(hostname: str) -> None:
    redis_client().delete(host_key(hostname))


def host_alive(hostname: str, incarnation: str | None = None) -> bool:
    """Whether the main process of the worker named `hostname` still heartbeats; with `incarnation`,
    that very incarnation of it, not one restarted under the same name since."""
    beat = redis_client().get(host_key(hostname))
    return beat is not None and incarnation in (None, beat)


def host_heartbeat_left_ms(hostname: str, client=None) -> int:
    """Milliseconds before the host heartbeat of the worker `hostname` lapses (negative: it has);
    `client` lets a caller (a liveness probe, worker/alive.py) bound the read with its own timeouts."""
    return (redis_client() if client is None else client).pttl(host_key(hostname))


def list_replicas(queue: str | None = None, ready_only: bool = False, client=None) -> list[dict]:
    """Live replicas (heartbeat not expired), optionally only those consuming `queue`; `client`
    lets a caller bound the reads with its own timeouts."""
    client = redis_client() if client is None else client
    keys = list(client.scan_iter(match=heartbeat_key("*"), count=500))
    replicas = [json.loads(raw) for raw in client.mget(keys) if raw] if keys else []
    if queue:
        replicas = [r for r in replicas if queue in r.get("queues", [])]
    if ready_only:
        replicas = [r for r in replicas if r.get("ready")]
    return sorted(replicas, key=lambda r: (r["hostname"], r["pid"]))
