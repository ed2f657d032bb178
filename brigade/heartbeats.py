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


def is_alive(process: str) -> bool:
    return bool(redis_client().exists(heartbeat_key(process)))


def host_key(hostname: str) -> str:
    return key("hb-host", hostname)


def publish_host(hostname: str) -> None:
    """The worker's main process (the one holding broker messages) is alive, whatever its pool has."""
    redis_client().set(host_key(hostname), "1", px=_ttl_ms())


def remove_host(hostname: str) -> None:
    redis_client().delete(host_key(hostname))


def host_alive(hostname: str) -> bool:
    """Whether the main process of the worker named `hostname` still heartbeats."""
    return bool(redis_client().exists(host_key(hostname)))


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
