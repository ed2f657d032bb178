"""One Redis connection pool per process and URL, and the key names Brigade writes.

Two temperaments, one per kind of process. A worker is *patient*: a command that meets a Redis
that stalls or restarts is retried with backoff for about REDIS_RETRY_S, so a transient fault
delays a job instead of failing it (an accepted job is never lost to one). The API is *prompt*:
one try within REDIS_SOCKET_TIMEOUT_S, then the request answers 503 with Retry-After
(app/errors.py), since a client can retry and a held request thread cannot serve anyone else.
Workers switch with `be_patient()` at start (worker/entry.py); everything else is prompt.

With REDIS_SENTINELS every client here asks the Sentinels where the primary is (redis-py's
`Sentinel.master_for`) and asks again after any connection fault, so a failover is one more
transient fault: a worker's retries reach the new primary, the API answers 503 until there is one.
A primary cut off from its replicas refuses writes (`min-replicas-to-write`, NOREPLICAS); that
error counts as a connection fault too (`NoReplicasError`), so the client reconnects, asks the
Sentinels again, and finds the primary that the majority elected.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

import redis
from redis._parsers.base import BaseParser
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from brigade.settings import get_settings, sentinel_list


class NoReplicasError(redis.ConnectionError):
    """NOREPLICAS: this primary has fewer replicas in reach than `min-replicas-to-write`, so it
    takes no write: it is cut off, and the Sentinels on the other side are replacing it. A
    connection fault, not a bad command: reconnect (through Sentinel) and retry."""


# redis-py maps an error reply's first word to its exception class; it has none for NOREPLICAS.
BaseParser.EXCEPTION_CLASSES.setdefault("NOREPLICAS", NoReplicasError)
_parse_error = BaseParser.parse_error.__func__


def _parse_error_in_scripts(cls, response: str):
    """A write refused inside a Lua script (a job's update is one) comes back as `ERR Error running
    script (...): ... -NOREPLICAS ...`, which the first word maps to a plain ResponseError: the API
    answered it with a 500, and a worker did not retry it. It is the same fault as a bare NOREPLICAS."""
    if "-NOREPLICAS " in response:
        return NoReplicasError(response)
    return _parse_error(cls, response)


BaseParser.parse_error = classmethod(_parse_error_in_scripts)

#: Redis faults that pass: a stall, a restart, a dropped connection, a failover.
TRANSIENT = (redis.ConnectionError, redis.TimeoutError)
BACKOFF_CAP_S = 5.0
#: A Sentinel that is up accepts a connection at once (the kernel does it): waiting longer only
#: delays asking the next one.
SENTINEL_CONNECT_TIMEOUT_S = 0.5
_temper = {"patient": False}


def _reconnect_through_sentinel(self, check_health: bool = True, retry_socket_connect: bool = True):
    """SentinelManagedConnection.connect_check_health, asking the Sentinels where the primary is
    each time a connection to it is made again.

    redis-py (8.1) reconnects a connection dropped inside a command's retries (and kombu its
    broker connection) through `connect_check_health`, which dials the address the connection last
    had: after a failover, the lost primary's. Only `connect()` asks the Sentinels. With a worker's
    patient retries (REDIS_RETRY_S) that kept its heartbeat, and every command of its thread,
    dialling the lost host for minutes while the promoted replica served everyone else: its
    heartbeat lapsed, its jobs were sent again as a dead replica's, and the API's /readyz, finding
    no ready replica, refused all traffic (`make cluster-chaos`, fault a). Patched on the class, so
    that the broker's and the result backend's Sentinel connections (kombu's, Celery's) follow a
    failover on a retry too."""
    if retry_socket_connect and not self._sock and self.connection_pool.is_master:
        return self.connect()  # connect_to() comes back here with retry_socket_connect=False
    return _connect_check_health(self, check_health=check_health, retry_socket_connect=retry_socket_connect)


_connect_check_health = SentinelManagedConnection.connect_check_health
SentinelManagedConnection.connect_check_health = _reconnect_through_sentinel


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
    return connect(url, socket_timeout=timeout, decode_responses=True, health_check_interval=30, retry=retry,
                   retry_on_error=list(TRANSIENT))


def connect(url: str, *, socket_timeout: float, **options) -> redis.Redis:
    """A client of the Redis that `url` names: `redis://…` directly, `sentinel://…;sentinel://…`
    (Settings.store_url with REDIS_SENTINELS) through the Sentinels, as the primary of
    REDIS_MASTER_NAME. `options` go to redis-py's client."""
    if not url.startswith("sentinel://"):
        return redis.Redis.from_url(url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout, **options)
    first = urlsplit(url.split(";")[0])
    hosts = ",".join(f"{u.hostname}:{u.port or 26379}" for u in map(urlsplit, url.split(";")))
    db = int(first.path.strip("/") or 0)
    return _sentinel(hosts, socket_timeout).master_for(
        get_settings().REDIS_MASTER_NAME, password=first.password, username=first.username or None, db=db,
        socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout, **options)


@lru_cache(maxsize=8)
def _sentinel(hosts: str, socket_timeout: float) -> Sentinel:
    """One Sentinel manager per process and timeout: it keeps the Sentinel that last answered
    first in its list, so a Sentinel that is down costs one connect timeout, not one per lookup."""
    return Sentinel(sentinel_list(hosts), sentinel_kwargs=sentinel_options(socket_timeout))


def sentinel_options(socket_timeout: float) -> dict:
    """How to talk to the Sentinels themselves (their password is their own: REDIS_SENTINEL_PASSWORD),
    also handed to kombu and Celery (`sentinel_kwargs`). One try each, and a short connect
    timeout: a lookup asks the Sentinels in turn, and one on a lost host (no reset, just silence)
    cost redis-py's default client retries 26 s (3 retries, jittered backoff) where it should
    cost a fraction of a second before the next Sentinel is asked."""
    return {"password": get_settings().sentinel_password, "socket_timeout": socket_timeout,
            "socket_connect_timeout": min(socket_timeout, SENTINEL_CONNECT_TIMEOUT_S), "retry": Retry(NoBackoff(), 0)}


def redis_client(url: str | None = None) -> redis.Redis:
    return _client(url or get_settings().store_url)


def key(*parts: str) -> str:
    """`key("job", job_id)` -> "brigade:job:<id>", prefixed by the KEY_PREFIX setting."""
    return ":".join((get_settings().KEY_PREFIX, *parts))
