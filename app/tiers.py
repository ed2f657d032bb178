"""Who is calling: API key -> tier (anonymous, authenticated, premium), and what each tier gets.

Keys come from the `API_KEYS` setting (`key1:premium,key2:authenticated`) and/or the file named by
`API_KEYS_FILE` (one `key:tier` per line, `#` comments; re-read when its mtime changes, so keys
rotate without a restart). A request presents its key as `X-API-Key: <key>` or
`Authorization: Bearer <key>`. No key at all means anonymous, rate-limited by client address; a
key that matches nothing is refused with 401 (a typo must not silently downgrade a paying client
to the anonymous limits).

The presented key is compared with every configured key with `hmac.compare_digest` over sha256
digests (fixed length), all of them every time, so the answer's timing says nothing about which
key, or how much of one, matched. Rate-limit counters are keyed by a digest of the key, never the
key itself, so the key never lands in Redis.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from dataclasses import dataclass

from flask import g, request

from app import context
from app.errors import ApiError
from brigade.broker_queues import is_amqp_url
from brigade.settings import Settings

ANONYMOUS, AUTHENTICATED, PREMIUM = "anonymous", "authenticated", "premium"
TIERS = (ANONYMOUS, AUTHENTICATED, PREMIUM)

#: Celery message priority per tier on the Redis transport, where 0 is served first: kombu keeps
#: one list per priority step (0, 3, 6, 9) and the worker's BRPOP names them in that order.
REDIS_PRIORITY = {PREMIUM: 0, AUTHENTICATED: 3, ANONYMOUS: 6}


def priority_for(tier: str, broker_url: str) -> int:
    """The message priority of `tier` on this broker. RabbitMQ serves the *highest* number first
    (0..9 with `x-max-priority`), the Redis emulation the lowest: the same order, mirrored."""
    redis_priority = REDIS_PRIORITY[tier]
    if is_amqp_url(broker_url):
        return 9 - redis_priority
    return redis_priority


def limits_for(tier: str, settings: Settings | None = None) -> str:
    """The flask-limiter limit string of `tier`, e.g. `10/hour;3/minute` (by default from the
    settings of the app serving the request)."""
    s = settings or context.settings()
    return {ANONYMOUS: s.RATE_LIMIT_ANONYMOUS, AUTHENTICATED: s.RATE_LIMIT_AUTHENTICATED,
            PREMIUM: s.RATE_LIMIT_PREMIUM}[tier]


# --- key table -----------------------------------------------------------------------------------


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def parse_keys(text: str, source: str = "API_KEYS") -> list[tuple[bytes, str, str]]:
    """`key:tier` entries separated by commas or newlines -> [(sha256(key), tier, key id)].
    The key may contain `:` (the tier is after the last one); blank entries and `#` comments are
    skipped. An unknown tier is a configuration error, raised at once."""
    entries = []
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0]
        for item in line.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, tier = item.rpartition(":")
            key, tier = key.strip(), tier.strip().lower()
            if not sep or not key:
                raise ValueError(f"{source}: entry {item[:4]}… is not `key:tier`")
            if tier not in TIERS:
                raise ValueError(f"{source}: tier {tier!r} is not one of {', '.join(TIERS)}")
            digest = _digest(key)
            entries.append((digest, tier, "key:" + digest.hex()[:16]))
    return entries


class KeyTable:
    """The configured keys: API_KEYS plus API_KEYS_FILE, the file re-read when it changes."""

    def __init__(self, settings: Settings):
        self._inline = parse_keys(settings.API_KEYS, "API_KEYS")
        self._path = settings.API_KEYS_FILE
        self._file_entries: list = []
        self._file_mtime: float | None = None
        self._lock = threading.Lock()

    def _from_file(self) -> list:
        if not self._path:
            return []
        try:
            mtime = os.stat(self._path).st_mtime
        except FileNotFoundError as exc:
            raise ValueError(f"API_KEYS_FILE {self._path} does not exist") from exc
        with self._lock:
            if mtime != self._file_mtime:
                with open(self._path, encoding="utf-8") as fh:
                    self._file_entries = parse_keys(fh.read(), f"API_KEYS_FILE {self._path}")
                self._file_mtime = mtime
            return self._file_entries

    def entries(self) -> list:
        return self._inline + self._from_file()

    def lookup(self, presented: str) -> tuple[str, str] | None:
        """(tier, key id) of the presented key, or None. Compares against every entry."""
        digest = _digest(presented)
        found = None
        for entry_digest, tier, key_id in self.entries():
            if hmac.compare_digest(digest, entry_digest) and found is None:
                found = (tier, key_id)
        return found


_tables: dict[tuple[str, str], KeyTable] = {}


def key_table(settings: Settings | None = None) -> KeyTable:
    """The key table of `settings`, by default those of the app serving the request."""
    s = settings or context.settings()
    config = (s.API_KEYS, s.API_KEYS_FILE)
    table = _tables.get(config)
    if table is None:
        table = _tables[config] = KeyTable(s)
    return table


# --- the caller of the current request -------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    tier: str
    identity: str  # what rate limits count by: "key:<digest prefix>" or "addr:<client address>"


def presented_key() -> str | None:
    """The API key the request carries, or None; an empty key is refused."""
    key = request.headers.get("X-API-Key")
    if key is None:
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer":
            return None  # no key, or another scheme that is not ours
        key = value
    key = key.strip()
    if not key:
        raise ApiError(401, "invalid-api-key", "the API key is empty: send a valid key, or none to be served as anonymous",
                       title="Invalid API key")
    return key


def job_owner() -> str | None:
    """Who may read the jobs this request creates: the key's identity; None for an anonymous
    caller, whose job id is its capability (an address is no identity: it changes and is shared)."""
    caller = identify()
    return None if caller.tier == ANONYMOUS else caller.identity


def may_read(record: dict) -> bool:
    """A job with an owner is read only with the owner's key; one without, by whoever has its id."""
    return not record.get("owner") or record["owner"] == job_owner()


def identify(settings: Settings | None = None) -> Caller:
    """The caller of the current request (cached on `flask.g`); ApiError 401 for an unknown key."""
    caller = g.get("brigade_caller")
    if caller is not None:
        return caller
    key = presented_key()
    if key is None:
        caller = Caller(ANONYMOUS, f"addr:{request.remote_addr or 'unknown'}")
    else:
        found = key_table(settings).lookup(key)
        if found is None:
            raise ApiError(401, "invalid-api-key", "this API key is not known; send a valid key, or none to be served as anonymous",
                           title="Invalid API key")
        caller = Caller(*found)
    g.brigade_caller = caller
    return caller
