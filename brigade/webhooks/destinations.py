"""Where a webhook may go: the allow-list (WEBHOOK_ALLOWED_HOSTS), the check of a `callback_url`
that the API makes before it creates a job, and the check of the addresses its host resolves to
that a worker makes at delivery (no non-public address unless the host is listed exactly)."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from brigade.settings import Settings

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}


class CallbackRefused(ValueError):
    """A callback URL that may not be used (the message says why); never worth a retry."""


def off_reason(s: Settings) -> str | None:
    """Why webhooks are off on this server, or None when they are on."""
    missing = [name for name in ("WEBHOOK_ALLOWED_HOSTS", "WEBHOOK_SIGNING_SECRET") if not getattr(s, name)]
    if not missing:
        return None
    return f"webhooks are off on this server: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"


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
