"""The cluster run's steady load: a few client threads sending, through the load balancer, short
videos (single), a longer video sharded, hotel prices and job reads, in a fixed mix, each request
with a client timeout, bounded in count and time. Every request goes through `Ledger.call`, so
the report can say what the clients saw while each fault was on."""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from devtools.chaos.ledger import Ledger
from devtools.chaos.suite import hotel_stay

WRITE, READ = "write", "read"
#: One client's turn, over and over (each client starts at its own place in it).
MIX = ("video", "read", "hotel", "read", "video", "read", "sharded", "read")
CLIENT_TIMEOUT_S = 30.0


def submit_video(ledger: Ledger, base: str, path: Path, *, sharded: bool = False,
                 timeout: float = CLIENT_TIMEOUT_S) -> requests.Response | None:
    with open(path, "rb") as fh:
        return ledger.call(WRITE, "POST", f"{base}/v1/videos", files={"video": (path.name, fh, "video/mp4")},
                           params={"mode": "sharded" if sharded else "single"}, timeout=timeout)


def submit_accepted(ledger: Ledger, base: str, path: Path, *, sharded: bool = False, bound_s: float = 60.0) -> str:
    """A job the API accepted: the upload is sent again (after Retry-After) while it is refused
    with a 503, for at most `bound_s`. For the jobs a fault must catch running."""
    deadline = time.monotonic() + bound_s
    while True:
        response = submit_video(ledger, base, path, sharded=sharded)
        if response is not None and response.status_code == 202:
            return response.json()["job_id"]
        if time.monotonic() > deadline or (response is not None and response.status_code != 503):
            detail = "no answer" if response is None else f"{response.status_code} {response.text[:300]}"
            raise RuntimeError(f"{path.name} was not accepted: {detail}")
        time.sleep(float((response.headers.get("Retry-After") if response is not None else None) or 1))


@dataclass
class LoadShape:
    clients: int = 4
    pause_s: float = 0.25  # between two requests of one client
    max_requests: int = 6000
    bound_s: float = 600.0


class Load:
    """`clips`: "video" (short, single) and "sharded" (longer, `?mode=sharded`); `mix`: the turns
    of each client (video, sharded, hotel, read); `reads_of`: the ledger whose accepted jobs the
    reads ask for (default: this load's)."""

    def __init__(self, base: str, ledger: Ledger, clips: dict[str, Path], shape: LoadShape = LoadShape(),
                 mix: tuple[str, ...] = MIX, reads_of: Ledger | None = None):
        self.base, self.ledger, self.clips, self.shape, self.mix = base, ledger, clips, shape, mix
        self.reads_of = reads_of or ledger  # whose accepted jobs the reads ask for
        self._stop = threading.Event()
        self._sent = itertools.count()
        self._threads: list[threading.Thread] = []
        self._hotels = itertools.count()

    def start(self) -> None:
        deadline = time.monotonic() + self.shape.bound_s
        self._threads = [threading.Thread(target=self._client, args=(n, deadline), name=f"load-{n}", daemon=True)
                         for n in range(self.shape.clients)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop sending; wait for the requests under way (each bounded by the client timeout)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(CLIENT_TIMEOUT_S + 10)

    def _client(self, n: int, deadline: float) -> None:
        rng = random.Random(n)
        for turn in itertools.islice(itertools.cycle(self.mix), n, None):
            if self._stop.is_set() or time.monotonic() > deadline or next(self._sent) >= self.shape.max_requests:
                return
            self.send(turn, rng)
            self._stop.wait(self.shape.pause_s)

    def send(self, turn: str, rng: random.Random) -> None:
        if turn == "read":
            known = self.reads_of.accepted_jobs()
            if known:
                self.ledger.call(READ, "GET", f"{self.base}/v1/jobs/{rng.choice(known)}", timeout=CLIENT_TIMEOUT_S)
        elif turn == "hotel":
            self.ledger.call(WRITE, "POST", f"{self.base}/v1/hotel-prices", json=hotel_stay(next(self._hotels)),
                             timeout=CLIENT_TIMEOUT_S)
        else:
            submit_video(self.ledger, self.base, self.clips[turn], sharded=turn == "sharded")
