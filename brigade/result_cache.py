"""Results cached by content and model: the same bytes tagged by the same model version are
answered from Redis instead of running the model again."""

from __future__ import annotations

import json

from brigade.redis_client import key, redis_client
from brigade.settings import get_settings


def cache_key(kind: str, *parts: object) -> str:
    return key("cache", kind, *(str(p) for p in parts))


def get_cached(kind: str, *parts: object) -> dict | None:
    raw = redis_client().get(cache_key(kind, *parts))
    return json.loads(raw) if raw else None


def put_cached(kind: str, value: dict, *parts: object) -> None:
    redis_client().set(cache_key(kind, *parts), json.dumps(value), ex=int(get_settings().RESULT_EXPIRES_S))


def clear_all() -> int:
    """Forget every cached result (benchmarks measure cold work; also after a bad model version)."""
    client = redis_client()
    keys = list(client.scan_iter(match=key("cache", "*"), count=1000))
    return client.delete(*keys) if keys else 0
