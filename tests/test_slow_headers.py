"""Clients that dribble their request headers against the real API under gunicorn: each is cut
off once its headers have taken API_HEADER_TIMEOUT_S, so 100 of them cannot hold every request
thread for good, and the liveness probe is answered while they dribble. A request that sends its headers
at once and its body slowly is not cut off by that deadline."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import requests

from devtools import procs

DRIBBLERS = 100  # over the 2 x 16 threads of the API
HEADER_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def strict_api(stack):
    return stack.start_api(env={"API_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S)})


def _dribble(api: str, stop: threading.Event, outcome: list) -> None:
    """Send a request line and header bytes one at a time until the server hangs up (or `stop`)."""
    host, port = api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        payload = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 10_000
        began = time.monotonic()
        for byte in payload:
            if stop.is_set():
                outcome.append(("stopped", time.monotonic() - began))
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                outcome.append(("cut", time.monotonic() - began))
                return
            time.sleep(0.2)
        outcome.append(("sent all", time.monotonic() - began))


def test_dribbled_headers_are_cut_off_and_the_probe_still_answers(strict_api):
    stop, outcome = threading.Event(), []
    threads = [threading.Thread(target=_dribble, args=(strict_api, stop, outcome), daemon=True) for _ in range(DRIBBLERS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)  # every dribbler has sent its first bytes: under plain gthread each now holds a thread
        probe = requests.get(f"{strict_api}/healthz", timeout=120)  # plain gthread: not before the dribblers end (~30 min)
        assert probe.status_code == 200
        procs.wait_until(lambda: any(kind == "cut" for kind, _ in outcome), 120, interval=0.5, what="a dribbler cut off")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
    assert "sent all" not in {kind for kind, _ in outcome}  # no dribbler got its headers through


def test_a_slow_body_after_prompt_headers_is_not_cut_off(strict_api):
    """The deadline is the headers' only: a body that takes longer than it still arrives."""
    host, port = strict_api.removeprefix("http://").split(":")
    body = b'{"payload": "slow but steady"}'
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(b"POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode())
        for i in range(0, len(body), 4):  # 8 pieces over ~3.2 s: longer than the header deadline
            time.sleep(0.4)
            sock.sendall(body[i:i + 4])
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = answer.split(b"\r\n", 1)[0]
    assert status.split()[1] in (b"200", b"202"), answer[:300]
