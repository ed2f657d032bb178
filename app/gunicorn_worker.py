"""The API's gunicorn worker: gthread, with a deadline on reading a request's headers.

gthread hands a connection to a thread as soon as its first byte arrives, and the thread then
reads the headers with blocking reads: a client that dribbles its headers a byte at a time holds
that thread as long as it likes, and 100 of them held every thread of the API, /healthz included
(`make chaos`: 30 s). Here each request's headers must arrive within HEADER_TIMEOUT_S (the
`API_HEADER_TIMEOUT_S` environment variable, like the other gunicorn knobs in
app/gunicorn_conf.py): a client that is slower is dropped, as a reverse proxy's
`client_header_timeout` would. The body is not under this deadline (a large upload over a slow
link may take long; gunicorn's own per-read data timeout still applies to it).
"""

from __future__ import annotations

import os
import time

from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import ThreadWorker

HEADER_TIMEOUT_S = float(os.environ.get("API_HEADER_TIMEOUT_S", "5"))


class _HeaderDeadline:
    """The connection's socket, whose reads fail once the current request's header deadline has
    passed (NoMoreData: gunicorn drops the connection quietly); `deadline` None: no deadline."""

    def __init__(self, sock):
        self._sock = sock
        self.deadline: float | None = None

    def arm(self) -> None:
        self.deadline = time.monotonic() + HEADER_TIMEOUT_S

    def recv(self, size: int) -> bytes:
        if self.deadline is None:
            self._sock.settimeout(None)
            return self._sock.recv(size)
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise NoMoreData(b"")
        self._sock.settimeout(left)
        try:
            return self._sock.recv(size)
        except TimeoutError as exc:
            raise NoMoreData(b"") from exc

    def __getattr__(self, name):
        return getattr(self._sock, name)


class HeaderDeadlineWorker(ThreadWorker):
    def handle(self, conn):
        if not hasattr(conn, "plain_init"):  # once per connection: handle() runs for each request on it
            conn.plain_init = conn.init
            conn.init = lambda: self._init_with_deadline(conn)
        return super().handle(conn)

    @staticmethod
    def _init_with_deadline(conn) -> None:
        """gunicorn calls conn.init() before reading each request: arm that request's deadline."""
        conn.plain_init()
        unreader = getattr(conn.parser, "unreader", None)
        if unreader is None:  # HTTP/2: not ours to bound here
            return
        if not isinstance(unreader.sock, _HeaderDeadline):
            unreader.sock = _HeaderDeadline(unreader.sock)
        unreader.sock.arm()

    def handle_request(self, req, conn):
        sock = getattr(getattr(conn.parser, "unreader", None), "sock", None)
        if isinstance(sock, _HeaderDeadline):
            sock.deadline = None  # the headers are in: the body is read without it
        return super().handle_request(req, conn)
