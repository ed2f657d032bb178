"""One Redis connection pool per process and URL, and the key names Brigade writes.

Two temperaments, one per kind of process. A worker is *patient*: a command that meets a Redis
that stalls or restarts is retried with backoff for about REDIS_RETRY_S, so a transient fault
delays a job instead of failing it (an accepted job is never lost to one). The API is *prompt*:
one try within REDIS_SOCKET_TIMEOUT_S, then the request answers 503 with Retry-After
(app/errors.py), since a client can retry and a held request thread cannot serve anyone else.
Workers switch with `be_patient()` at start (tasks/worker.py); everything else is prompt.
"""

from __future__ import annotations

from functools import lru_cache

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from brigade.settings import get_settings

#: Redis faults that pass: a stall, a restart, a dropped connection.
TRANSIENT = (redis.ConnectionError, redis.TimeoutError)
BACKOFF_CAP_S = 5.0
_temper = {"patient": False}


def be_patient() -> None:
    """This process rides out Redis faults (a worker); call before its first Redis command."""
    _temper["patient"] = True
    _client.cache_clear()


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    s = get_settings()
    timeout = s.REDIS_SOCKET_TIMEOUT_S
    if _temper["patient"]:
        retries = max(1, int(s.REDIS_RETRY_S // (timeout + BACKOFF_CAP_S)) + 1)
        retry = Retry(ExponentialBackoff(cap=BACKOFF_CAP_S, base=0.2), retries)
    else:
        retry = Retry(ExponentialBackoff(), 0)
    return redis.Redis.from_url(url, decode_responses=True, health_check_interval=30, socket_timeout=timeout,
                                socket_connect_timeout=timeout, retry=retry, retry_on_error=list(TRANSIENT))


def redis_client(url: str | None = None) -> redis.Redis:
    return _client(url or get_settings().REDIS_URL)


def key(*parts: str) -> str:
    """`key("job", job_id)` -> "brigade:job:<id>", prefixed by the KEY_PREFIX setting."""
    return ":".join((get_settings().KEY_PREFIX, *parts))
