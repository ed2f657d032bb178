"""One Redis connection pool per process and URL, and the key names Brigade writes."""

from __future__ import annotations

from functools import lru_cache

import redis

from brigade.settings import get_settings


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)


def redis_client(url: str | None = None) -> redis.Redis:
    return _client(url or get_settings().REDIS_URL)


def key(*parts: str) -> str:
    """`key("job", job_id)` -> "brigade:job:<id>", prefixed by the KEY_PREFIX setting."""
    return ":".join((get_settings().KEY_PREFIX, *parts))
