"""The API's gunicorn worker: gthread, except that a request's headers are read by the event loop,
not by a request thread.

Plain gthread hands a connection to a thread as soon as its first byte arrives, and the thread
then reads the headers with blocking reads: a client that dribbles its headers a byte at a time
holds that thread as long as it likes, and 100 of them held every thread of the API, /healthz
included (`make chaos`: 30 s). Here the worker's main loop collects each request's head (up to the
blank line) from non-blocking sockets, as a reverse proxy would, and only a complete head goes to
a thread, with the bytes read so far handed back to the parser. A head that takes longer than
HEADER_TIMEOUT_S (`API_HEADER_TIMEOUT_S`, like the other gunicorn knobs of app/gunicorn_conf.py)
is dropped. The body is the request thread's to read, as before (uploads stream to disk).
"""

from __future__ import annotations

import errno
import os
import selectors
import time
from collections import deque
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

HEADER_TIMEOUT_S = float(os.environ.get("API_HEADER_TIMEOUT_S", "5"))
HEAD_END = b"\r\n\r\n"
#: Past this a head is handed to the parser as it is, which refuses what breaks its own limits.
MAX_HEAD_BYTES = 64 * 1024


class HeaderDeadlineWorker(ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reading_heads: deque[TConn] = deque()

    # --- where gthread would hand a connection to a thread at its first byte ---------------------

    def accept(self, listener):
        if self.cfg.is_ssl:  # TLS needs its handshake first: plain gthread
            return super().accept(listener)
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._read_head(TConn(self.cfg, client_sock, client_addr, listener.getsockname()))

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection's next request."""
        if self.cfg.is_ssl:
            return super().on_client_socket_readable(conn, client)
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_head(conn)

    # --- the head, read by the event loop -------------------------------------------------------------

    def _read_head(self, conn: TConn) -> None:
        conn.sock.setblocking(False)
        conn.head = bytearray()
        conn.head_deadline = time.monotonic() + HEADER_TIMEOUT_S
        self.reading_heads.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_bytes, conn))

    def _on_head_bytes(self, conn: TConn, sock) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client went away
            self._drop(conn)
            return
        conn.head += data
        if HEAD_END in conn.head or len(conn.head) > MAX_HEAD_BYTES:
            self._stop_reading(conn)
            conn.data_ready = True  # no wait_for_data in the thread: the head is here
            self.enqueue_req(conn)

    def _stop_reading(self, conn: TConn) -> None:
        self.poller.unregister(conn.sock)
        self.reading_heads.remove(conn)

    def _drop(self, conn: TConn) -> None:
        self._stop_reading(conn)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self):
        """Also drop the connections whose head is late. The main loop runs this after every wake-up
        (each byte a dribbler sends), so it looks at the oldest heads only: they are kept in
        deadline order (appended with now + a fixed timeout)."""
        super().murder_pending()
        now = time.monotonic()
        while self.reading_heads and self.reading_heads[0].head_deadline <= now:
            self._drop(self.reading_heads[0])

    # --- in the request thread: the parser gets the head back ---------------------------------------

    def handle(self, conn):
        if not hasattr(conn, "plain_init"):  # once per connection: handle() runs for each request on it
            conn.plain_init = conn.init
            conn.init = lambda: self._init_with_head(conn)
        return super().handle(conn)

    @staticmethod
    def _init_with_head(conn) -> None:
        conn.plain_init()
        head = getattr(conn, "head", None)
        if head:
            conn.parser.unreader.unread(bytes(head))
            conn.head = None
