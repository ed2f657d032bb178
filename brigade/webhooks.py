"""Job-completion webhooks (docs/WEBHOOKS.md): which callback URLs are allowed, how a delivery is
signed, and one delivery attempt. The API validates a `callback_url` before it creates the job;
a worker delivers it, never the API request.

* **Allowed destinations.** http or https, no userinfo, at most MAX_URL_LENGTH characters, a host
  that matches WEBHOOK_ALLOWED_HOSTS (`host`, `host:port`, `*.domain`, `*.domain:port`). At
  delivery the host is resolved and checked again: if any address it resolves to is not public
  (loopback, private, link-local, shared, reserved, multicast), it is refused unless the host is
  listed exactly (no wildcard): only then has the operator opted in. The request then goes to the
  very address that was checked (no second lookup a DNS answer could change), redirects are not
  followed.
* **Signature.** Each API key has its own secret, HMAC-SHA256(WEBHOOK_SIGNING_SECRET, key
  identity), which its holder reads at GET /v1/webhook-secret; anonymous callers have none and
  may not ask for webhooks. A delivery carries `X-Brigade-Timestamp: <unix seconds>` and
  `X-Brigade-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
* **No notification lost.** A job created with a callback has a place in the outbox (a sorted set,
  `brigade.jobs`) that its terminal update makes due in the same MULTI/EXEC; a worker chore
  (`tasks.chores`) sends a `tasks.webhooks.deliver` task per due job and only then removes it, and
  that task is acked late, redelivered if its worker dies, and retried with exponential backoff
  (WEBHOOK_BACKOFF_S doubling up to WEBHOOK_BACKOFF_MAX_S, WEBHOOK_MAX_ATTEMPTS in all). Delivery is
  at least once: a receiver dedupes by job id and status.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from brigade import job_body, jobs
from brigade.redis_client import redis_client
from brigade.settings import Settings, get_settings

log = logging.getLogger(__name__)

MAX_URL_LENGTH = 2048
TIMESTAMP_HEADER = "X-Brigade-Timestamp"
SIGNATURE_HEADER = "X-Brigade-Signature"
SIGNATURE_VERSION = "v1"
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Answers worth another attempt; any other non-2xx answer will not change by retrying.
RETRY_STATUSES = frozenset({408, 429})
PENDING, RETRYING, DELIVERED, FAILED = "pending", "retrying", "delivered", "failed"


class CallbackRefused(ValueError):
    """A callback URL that may not be used (the message says why); never worth a retry."""


def off_reason(s: Settings) -> str | None:
    """Why webhooks are off on this server, or None when they are on."""
    missing = [name for name in ("WEBHOOK_ALLOWED_HOSTS", "WEBHOOK_SIGNING_SECRET") if not getattr(s, name)]
    if not missing:
        return None
    return f"webhooks are off on this server: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"


# --- secrets and signatures ---------------------------------------------------------------------------


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


# --- allowed destinations -----------------------------------------------------------------------------


def _host(raw: str) -> str:
    """Lower case, no trailing dot, an IP address in its canonical form."""
    host = raw.strip().lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


@dataclass(frozen=True)
class AllowedHost:
    host: str  # for a wildcard, the suffix: `.example.com`
    port: int | None
    wildcard: bool

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.wildcard:
            return host.endswith(self.host) and len(host) > len(self.host)
        return host == self.host


_HOSTNAME = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_allowed_hosts(text: str) -> list[AllowedHost]:
    """WEBHOOK_ALLOWED_HOSTS: `host`, `host:port`, `*.domain[:port]`, `[v6]:port`, comma-separated."""
    entries = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if item.startswith("["):
            host, _, rest = item[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else rest
        elif item.count(":") == 1:
            host, port = item.split(":")
        else:
            host, port = item, ""
        wildcard = host.startswith("*.")
        host = _host(host[2:] if wildcard else host)
        port_ok = port == "" or (port.isdigit() and 0 < int(port) < 65536)
        host_ok = (_is_ip(host) and not wildcard) or bool(_HOSTNAME.match(host))
        if not (port_ok and host_ok):
            raise ValueError(f"WEBHOOK_ALLOWED_HOSTS: {item!r} is not `host`, `host:port` or `*.domain[:port]`")
        entries.append(AllowedHost(f".{host}" if wildcard else host, int(port) if port else None, wildcard))
    return entries


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str
    port: int
    target: str  # path and query, what the request line carries
    exact: bool  # the allow-list names this host exactly: it may resolve to a non-public address
    address: str = ""  # the address checked at delivery, which the request goes to


def check_callback_url(url: str, s: Settings) -> Destination:
    """The parsed destination of `url`, or CallbackRefused saying why it may not be used. Resolves
    nothing (the API calls it inside a request); `resolve_destination` does, at delivery."""
    if not isinstance(url, str) or not url:
        raise CallbackRefused("callback_url is empty")
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"callback_url is longer than {MAX_URL_LENGTH} characters")
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url) or not url.isascii():
        raise CallbackRefused("callback_url has spaces, control or non-ASCII characters (percent-encode them; "
                              "a host in its punycode form)")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise CallbackRefused(f"callback_url must be http or https, not {parts.scheme or 'relative'!r}")
    if "@" in parts.netloc:
        raise CallbackRefused("callback_url may not carry user information (user:password@)")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise CallbackRefused("callback_url has an invalid port") from exc
    if not parts.hostname:
        raise CallbackRefused("callback_url has no host")
    host = _host(parts.hostname)
    matched = [entry for entry in parse_allowed_hosts(s.WEBHOOK_ALLOWED_HOSTS) if entry.matches(host, port)]
    if not matched:
        shown = f"[{host}]" if ":" in host else host
        raise CallbackRefused(f"callback_url: host {shown}:{port} is not allowed by this server (WEBHOOK_ALLOWED_HOSTS)")
    destination = Destination(scheme, host, port, (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                              exact=any(not entry.wildcard for entry in matched))
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return destination
    _refuse_non_public(destination, [literal])
    return destination


def _refuse_non_public(destination: Destination, addresses: list) -> None:
    internal = [address for address in addresses if not _is_public(address)]
    if internal and not destination.exact:
        raise CallbackRefused(f"callback_url: {destination.host} is {internal[0]}, not a public address; only a host "
                              "listed exactly (no wildcard) in WEBHOOK_ALLOWED_HOSTS may be")


def resolve_destination(url: str, s: Settings, resolve: Callable = socket.getaddrinfo) -> Destination:
    """`check_callback_url` against today's allow-list, then the host's addresses: CallbackRefused
    if one is not public and the host is not listed exactly; OSError if it does not resolve."""
    destination = check_callback_url(url, s)
    infos = resolve(destination.host, destination.port, type=socket.SOCK_STREAM)
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise OSError(f"{destination.host} resolves to no address")
    _refuse_non_public(destination, addresses)
    return dataclasses.replace(destination, address=str(addresses[0]))


def post(destination: Destination, body: bytes, headers: dict, timeout_s: float) -> tuple[int, str | None]:
    """POST `body` to the checked address (TLS still verifies the host's certificate); the status
    and Retry-After. Redirects are not followed."""
    kind = http.client.HTTPSConnection if destination.scheme == "https" else http.client.HTTPConnection
    conn = kind(destination.host, destination.port, timeout=timeout_s)

    def connect_to_checked_address(address, *args, **kwargs):
        return socket.create_connection((destination.address, address[1]), *args, **kwargs)

    conn._create_connection = connect_to_checked_address
    try:
        conn.request("POST", destination.target, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status, response.getheader("Retry-After")
    finally:
        conn.close()


# --- delivery -------------------------------------------------------------------------------------------


def public_state(state: dict) -> dict:
    """What a client sees of the delivery (GET /v1/jobs/<id>: `webhook`)."""
    return {k: state[k] for k in ("status", "attempts", "last_error", "last_status_code", "last_attempt_at") if k in state}


def backoff_s(attempts: int, s: Settings, retry_after: str | None = None) -> float:
    """Wait after `attempts` failed attempts: WEBHOOK_BACKOFF_S doubling, at most WEBHOOK_BACKOFF_MAX_S;
    longer if the receiver asked for it (Retry-After seconds, within the same cap)."""
    delay = s.WEBHOOK_BACKOFF_S * 2 ** (attempts - 1)
    if retry_after and retry_after.strip().isdigit():
        delay = max(delay, float(retry_after))
    return min(delay, s.WEBHOOK_BACKOFF_MAX_S)


@dataclass(frozen=True)
class Attempt:
    status: str  # delivered | retrying | failed | skipped
    retry_in_s: float | None = None


def payload(record: dict) -> bytes:
    """The webhook's body: the job as GET /v1/jobs/<id> renders it (without its `webhook` state)."""
    return json.dumps(job_body.render(record), separators=(",", ":")).encode()


def attempt_delivery(job_id: str, s: Settings | None = None, *, resolve: Callable = socket.getaddrinfo,
                     send: Callable = post) -> Attempt:
    """One delivery attempt of the job's webhook, its outcome written to the record (`webhook`)."""
    s = s or get_settings()
    record = jobs.get_job(job_id)
    if record is None or not record.get("webhook") or record["status"] not in jobs.TERMINAL:
        return Attempt("skipped")
    state = record["webhook"]
    if state.get("for_status") != record["status"]:  # first delivery, or the job ended again otherwise
        state = {"key": state.get("key", ""), "for_status": record["status"], "attempts": 0}
    elif state.get("status") in (DELIVERED, FAILED):  # a duplicate task (at least once): done already
        return Attempt("skipped")
    attempts = state["attempts"] + 1
    state = {**state, "attempts": attempts, "last_attempt_at": time.time(), "last_error": None, "last_status_code": None}
    retry_after = None
    try:
        if not s.WEBHOOK_SIGNING_SECRET:
            raise CallbackRefused("this worker has no WEBHOOK_SIGNING_SECRET: it cannot sign")
        destination = resolve_destination(record["input"]["callback_url"], s, resolve)
        body = payload(record)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "brigade-webhooks/1",
            "X-Brigade-Event": f"job.{record['status']}",
            "X-Brigade-Job": job_id,
            "X-Brigade-Attempt": str(attempts),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(signing_secret(s.WEBHOOK_SIGNING_SECRET, state["key"]), timestamp, body),
        }
        code, retry_after = send(destination, body, headers, s.WEBHOOK_TIMEOUT_S)
        state["last_status_code"] = code
        if 200 <= code < 300:
            outcome = DELIVERED
        else:
            state["last_error"] = f"the receiver answered {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
            outcome = RETRYING if code in RETRY_STATUSES or code >= 500 else FAILED
    except ValueError as exc:  # CallbackRefused, or a WEBHOOK_ALLOWED_HOSTS that does not parse
        state["last_error"], outcome = str(exc), FAILED
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, no DNS answer
        state["last_error"], outcome = f"{exc.__class__.__name__}: {exc}"[:500], RETRYING
    if outcome == RETRYING and attempts >= s.WEBHOOK_MAX_ATTEMPTS:
        outcome = FAILED
    state["status"] = outcome
    jobs.set_webhook_state(job_id, state)
    if outcome != DELIVERED:
        log.warning("webhook of job %s, attempt %d: %s (%s)", job_id, attempts, outcome, state["last_error"])
    return Attempt(outcome, backoff_s(attempts, s, retry_after) if outcome == RETRYING else None)


def drain_outbox(send: Callable[[str], object], now: float | None = None, limit: int = 200) -> list[str]:
    """Send a delivery task (`send(job_id)`) for each job whose webhook is due, then take it out of
    the outbox: a crash in between sends it twice, never not at all. Stops at the first failed send
    (the broker is away: the rest stay for the next round). The ids sent."""
    client = redis_client()
    due = client.zrangebyscore(jobs.webhook_outbox_key(), "-inf", time.time() if now is None else now, start=0, num=limit)
    sent = []
    for job_id in due:
        try:
            send(job_id)
        except Exception:
            log.warning("webhook outbox: could not send the delivery of job %s; next round", job_id, exc_info=True)
            break
        client.zrem(jobs.webhook_outbox_key(), job_id)
        sent.append(job_id)
    return sent
