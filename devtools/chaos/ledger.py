"""What a chaos run injected and saw: faults, every HTTP answer (5xx kept with their request), and
the phases' own records. The one HTTP client of the suite goes through `Ledger.http`; the cluster
run's load goes through `Ledger.call`, which also keeps each request's timing and outcome (the
outage windows of bench/cluster_chaos.py are read from those)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager

import requests


def store_unavailable(response: requests.Response) -> bool:
    """The one-host suite's expected 503: the API saying its Redis does not answer."""
    return "store-unavailable" in response.text[:300]


def retry_later(response: requests.Response) -> bool:
    """The cluster's expected 503: any that says when to retry (Retry-After): the API's
    store-unavailable / store-not-replicated / broker-unavailable, HAProxy's no-api-ready."""
    return response.status_code == 503 and bool(response.headers.get("Retry-After"))


def problem_type(response: requests.Response | None) -> str | None:
    """The last word of an error answer's problem type (store-unavailable, no-api-ready, ...)."""
    if response is None or response.status_code < 400:
        return None
    try:
        return str(response.json().get("type", "")).rsplit("/", 1)[-1] or None
    except (ValueError, AttributeError):
        return "not-a-problem-body"


def accepted_job(method: str, response: requests.Response | None) -> str | None:
    """The job a POST's 202 (or 200: a hotel price answered at once) accepted."""
    if response is None or response.status_code not in (200, 202) or method.upper() != "POST":
        return None
    try:
        return response.json().get("job_id")
    except (ValueError, AttributeError):
        return None


class Ledger:
    """`expected_503`: which 503 inside a `redis_fault()` block is the service doing its job."""

    def __init__(self, expected_503: Callable[[requests.Response], bool] = store_unavailable):
        self.started = time.time()
        self.faults: list[dict] = []
        self.phases: dict[str, dict] = {}
        self.statuses: Counter = Counter()
        self.server_errors: list[dict] = []  # 5xx outside a Redis fault window (must stay empty)
        self.expected_503: int = 0  # 503 store-unavailable while Redis was stopped or down (by design)
        self.accepted: set[str] = set()
        self.answers: list[dict] = []  # one per Ledger.call: when sent, how long, what came back
        self._expected = expected_503
        self._lock = threading.Lock()
        self._redis_fault = False
        self.phase = "setup"

    def accepted_jobs(self) -> list[str]:
        """A copy of `accepted`, safe while other threads add to it."""
        with self._lock:
            return list(self.accepted)

    def merge(self, other: Ledger) -> None:
        """Count here what another client of the run saw (one on the far side of a split): its
        accepted jobs, answers by status and 5xx; its timed answers stay its own."""
        with self._lock:
            self.accepted.update(other.accepted)
            self.statuses.update(other.statuses)
            self.server_errors += other.server_errors
            self.expected_503 += other.expected_503

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
            if status == 503 and self._redis_fault and self._expected(response):
                self.expected_503 += 1
                return
            self.server_errors.append({"phase": self.phase, "method": method, "url": url, "status": status, "body": body})

    def http(self, method: str, url: str, *, session: requests.Session | None = None, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        response = (session or requests).request(method, url, **kwargs)  # a fresh connection unless told
        self.note(method, url, response)
        job_id = accepted_job(method, response)
        if job_id:
            with self._lock:
                self.accepted.add(job_id)
        return response

    def call(self, kind: str, method: str, url: str, **kwargs) -> requests.Response | None:
        """`http`, kept as an answer of `kind` (e.g. write, read) with its send time, wait and
        outcome; a request that got no answer (client timeout, refused or reset connection) is
        kept too, and returns None instead of raising."""
        phase, store_fault, sent = self.phase, self._redis_fault, time.time()
        error = None
        try:
            response = self.http(method, url, **kwargs)
        except requests.RequestException as exc:
            response, error = None, exc.__class__.__name__
            self.note(method, url, None, error)
        answer = {"phase": phase, "kind": kind, "t": round(sent - self.started, 3), "took": round(time.time() - sent, 3),
                  "status": None if response is None else response.status_code, "error": error,
                  "retry_after": None if response is None else response.headers.get("Retry-After"),
                  "problem": problem_type(response), "job_id": accepted_job(method, response),
                  "store_fault": store_fault or self._redis_fault}
        with self._lock:
            self.answers.append(answer)
        return response
