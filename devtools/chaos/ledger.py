"""What a chaos run injected and saw: faults, every HTTP answer (5xx kept with their request), and
the phases' own records. The one HTTP client of the suite goes through `Ledger.http`."""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager

import requests


class Ledger:
    def __init__(self):
        self.started = time.time()
        self.faults: list[dict] = []
        self.phases: dict[str, dict] = {}
        self.statuses: Counter = Counter()
        self.server_errors: list[dict] = []  # 5xx outside a Redis fault window (must stay empty)
        self.expected_503: int = 0  # 503 store-unavailable while Redis was stopped or down (by design)
        self.accepted: set[str] = set()
        self._lock = threading.Lock()
        self._redis_fault = False
        self.phase = "setup"

    def fault(self, kind: str, target: str, **details) -> None:
        entry = {"phase": self.phase, "kind": kind, "target": target, "t": round(time.time() - self.started, 2), **details}
        with self._lock:
            self.faults.append(entry)
        print(f"[chaos] fault {kind} -> {target} {details or ''}", flush=True)

    def record(self, name: str, **values) -> dict:
        self.phases.setdefault(name, {}).update(values)
        return self.phases[name]

    @contextmanager
    def redis_fault(self):
        """503 store-unavailable inside this block is the API doing its job, not a server error."""
        self._redis_fault = True
        try:
            yield
        finally:
            time.sleep(1.0)  # answers already under way when the fault ended
            self._redis_fault = False

    def note(self, method: str, url: str, response: requests.Response | None, error: str | None = None) -> None:
        status = response.status_code if response is not None else None
        with self._lock:
            self.statuses[status or "no-answer"] += 1
            if status is None or status < 500:
                return
            body = response.text[:300]
            if status == 503 and self._redis_fault and "store-unavailable" in body:
                self.expected_503 += 1
                return
            self.server_errors.append({"phase": self.phase, "method": method, "url": url, "status": status, "body": body})

    def http(self, method: str, url: str, *, session: requests.Session | None = None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        response = (session or requests).request(method, url, **kwargs)  # a fresh connection unless told
        self.note(method, url, response)
        if response.status_code == 202 and method.upper() == "POST":
            try:
                job_id = response.json().get("job_id")
            except ValueError:
                job_id = None
            if job_id:
                with self._lock:
                    self.accepted.add(job_id)
        return response
