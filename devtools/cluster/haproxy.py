"""HAProxy in front of the API hosts: its config, its command line, and a reader of its statistics.

Health: HAProxy asks each API host `GET /readyz` every second and takes a host out after 2 failed
checks (back after 2 good ones), so a host that lost its broker or its last ready replica stops
getting requests within about 2 s. A request that could not reach its server is retried (twice),
on another server (`option redispatch`). Timeouts: 75 s for a server's answer, above the API's
60 s cap on `?wait=` long polls (MAX_WAIT_S); a client may take as long to send an upload.

The API hosts see the load balancer's address; HAProxy adds the client's in X-Forwarded-For (and
sets X-Forwarded-Proto/Host itself, so a client cannot), and the cluster starts the API with
TRUSTED_PROXY_HOPS=1, so rate limits still count each client, not the load balancer.

The statistics socket is a unix socket file in the run folder: path-named unix sockets are not
tied to a network namespace, so the harness in the root namespace reads it directly.
"""

from __future__ import annotations

import csv
import io
import json
import socket
from dataclasses import dataclass
from pathlib import Path

from devtools import apt

BINARY = Path("/usr/sbin/haproxy")
PACKAGES = ["haproxy"]
PORT = 8080
BACKEND = "api"
ALGORITHMS = ("roundrobin", "leastconn", "static-rr")


@dataclass(frozen=True)
class Balance:
    """How requests are spread: HAProxy's `balance` algorithm and, optionally, a weight per API host
    (in host order; HAProxy's default weight is 1)."""

    algorithm: str = "roundrobin"
    weights: tuple[int, ...] = ()

    def __post_init__(self):
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"balance algorithm {self.algorithm!r}: one of {', '.join(ALGORITHMS)}")
        if any(w < 0 or w > 256 for w in self.weights):
            raise ValueError("HAProxy weights are 0..256")

    @classmethod
    def parse(cls, name: str, weights: str = "") -> Balance:
        """`roundrobin`, `leastconn`, `static-rr`, or `weighted` (roundrobin with `weights`, default 3,2,1)."""
        parsed = tuple(int(w) for w in weights.split(",") if w.strip())
        if name == "weighted":
            return cls("roundrobin", parsed or (3, 2, 1))
        return cls(name, parsed)

    def weight(self, index: int) -> int:
        return self.weights[index] if index < len(self.weights) else 1

    def __str__(self) -> str:
        return self.algorithm + (f" weights {':'.join(map(str, self.weights))}" if self.weights else "")


def program() -> Path:
    """HAProxy, installed with apt-get when missing (as root); apt.Unavailable says why when it cannot be."""
    return apt.ensure(BINARY, PACKAGES)


def config(bind: str, servers: list[tuple[str, str, int]], balance: Balance, stats_socket: Path) -> str:
    """haproxy.cfg: the frontend on `bind`:PORT, the backend of `servers` (name, address, port)."""
    lines = [
        "global",
        f"    stats socket {stats_socket} mode 600 level admin",
        "    stats timeout 10s",
        "    log stdout format raw local0",
        "    maxconn 2000",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option redispatch",
        "    retries 2",
        "    timeout connect 2s",
        "    timeout client 75s",
        "    timeout server 75s",
        "    timeout http-request 15s",  # the request head; a slow upload's body is bounded by `timeout client`
        "    timeout http-keep-alive 10s",
        "    timeout queue 30s",
        "    timeout check 1s",  # a /readyz slower than this fails the check: a prompt API answers 503 at once
        no_server_ready(),
        "",
        f"frontend {BACKEND}_in",
        f"    bind {bind}:{PORT}",
        "    option forwardfor",  # the client's address, for the API's per-address limits (TRUSTED_PROXY_HOPS=1)
        "    http-request set-header X-Forwarded-Proto http",  # ours, never a client's
        "    http-request set-header X-Forwarded-Host %[req.hdr(host)]",
        "    http-request del-header X-Forwarded-Prefix",
        f"    default_backend {BACKEND}",
        "",
        f"backend {BACKEND}",
        f"    balance {balance.algorithm}",
        "    option httpchk",
        "    http-check send meth GET uri /readyz",
        "    http-check expect status 200",
        "    default-server check inter 1s fall 2 rise 2",
    ]
    lines += [f"    server {name} {address}:{port} weight {balance.weight(i)}" for i, (name, address, port) in enumerate(servers)]
    return "\n".join(lines) + "\n"


def no_server_ready() -> str:
    """HAProxy's own 503, when no API host passes its check (every one fails /readyz while the Redis
    primary fails over): the API's problem body and Retry-After, so a client retries as it would on
    the API's own 503, instead of a bare HTML page with no hint of when."""
    from app.errors import PROBLEM_BASE, RETRY_AFTER_S

    body = json.dumps({"type": PROBLEM_BASE + "no-api-ready", "title": "No API host ready", "status": 503,
                       "detail": "no API host passes its readiness check (a failover may be under way); retry later",
                       "retry_after_s": RETRY_AFTER_S}, separators=(",", ":"))
    return (f"    http-error status 503 content-type application/problem+json string '{body}' "
            f"hdr Retry-After {RETRY_AFTER_S} hdr Cache-Control no-store")


def command(config_path: Path) -> list[str]:
    """HAProxy in the foreground (`-db`), so the harness owns it like any other process."""
    return [str(BINARY), "-f", str(config_path), "-db"]


def show_stat(stats_socket: Path, timeout: float = 2.0) -> list[dict[str, str]]:
    """`show stat` over the stats socket: one dict per proxy/server row, keyed by the CSV header."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(stats_socket))
        sock.sendall(b"show stat\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return parse_stat(b"".join(chunks).decode())


def parse_stat(text: str) -> list[dict[str, str]]:
    """HAProxy's stat CSV (its header line starts with `# `) as dicts."""
    text = text.lstrip()
    if text.startswith("# "):
        text = text[2:]
    return [row for row in csv.DictReader(io.StringIO(text)) if row.get("pxname")]


def servers(stats_socket: Path, backend: str = BACKEND) -> dict[str, dict]:
    """Each server of `backend`: its status (UP, DOWN, ...), last check, weight, requests it was sent
    (`stot`), answers by class (`hrsp_2xx`...), sessions now (`scur`) and at most (`smax`)."""
    out = {}
    for row in show_stat(stats_socket):
        if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND"):
            counters = {k: int(row[k] or 0) for k in ("stot", "scur", "smax", "weight", "hrsp_1xx", "hrsp_2xx",
                                                       "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")}
            out[row["svname"]] = {"status": row["status"], "check_status": row["check_status"], **counters}
    return out
