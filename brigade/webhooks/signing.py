"""Webhook signatures: each API key's secret, a delivery's signature, and the receiver's check
(docs/WEBHOOKS.md)."""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Brigade-Timestamp"
SIGNATURE_HEADER = "X-Brigade-Signature"
SIGNATURE_VERSION = "v1"


def signing_secret(master: str, identity: str) -> str:
    """The webhook secret of one API key (`identity`: `key:<digest prefix>`, app.tiers)."""
    digest = hmac.new(master.encode(), f"brigade-webhook-secret:{identity}".encode(), hashlib.sha256).hexdigest()
    return f"whsec_{digest}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={mac}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, *, tolerance_s: float = 300,
           now: float | None = None) -> bool:
    """What a receiver does: the timestamp is recent and one of the signatures (comma-separated)
    is ours. The snippet of docs/WEBHOOKS.md is this function."""
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance_s:
        return False
    expected = sign(secret, sent_at, body)
    return any(hmac.compare_digest(expected, candidate.strip()) for candidate in signature.split(","))
