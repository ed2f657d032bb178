"""Job-completion webhooks through the real stack: a clip submitted with a `callback_url` is tagged,
and a worker (never the API) POSTs the job's body, signed with the key's secret, to a receiver on
127.0.0.1 (allowed by an exact WEBHOOK_ALLOWED_HOSTS entry, the operator's opt-in for a loopback
address); a receiver that fails twice gets the third attempt, after the backoff.

The API and the workers here run on their own Redis database with the webhook settings, so no
other module's worker takes their tasks (readiness is read through this API's /readyz)."""

from __future__ import annotations

import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from brigade.webhooks import signing
from devtools import procs
from models.build.synth import Scene
from tests.stack import CONTROL, PREDICT, Workers, wait_job

pytestmark = pytest.mark.integration  # its layer (tests/conftest.py): gunicorn, celery workers, ffmpeg

KEY = "webhook-test-premium"
HEADERS = {"X-API-Key": KEY}


class Receiver:
    """A tiny threaded HTTP server: keeps every POST (headers, body) by path; a path registered with
    `fail_first(path, n)` answers 500 to its first n POSTs."""

    def __init__(self):
        self.posts: dict[str, list[tuple[dict, bytes]]] = {}
        self._failures: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                path = self.path.split("?", 1)[0]
                with receiver._lock:
                    receiver.posts.setdefault(path, []).append((dict(self.headers), body))
                    failing = receiver._failures.get(path, 0) > 0
                    if failing:
                        receiver._failures[path] -= 1
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}?from=brigade"

    def fail_first(self, path: str, times: int) -> None:
        self._failures[path] = times

    def received(self, path: str) -> list[tuple[dict, bytes]]:
        with self._lock:
            return list(self.posts.get(path, []))


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture(scope="module")
def hooked_api(stack, receiver):
    env = {
        "REDIS_URL": os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/6",
        "API_KEYS": f"{KEY}:premium",
        "WEBHOOK_ALLOWED_HOSTS": f"127.0.0.1:{receiver.port}",
        "WEBHOOK_SIGNING_SECRET": f"integration-{uuid.uuid4().hex}",
        "WEBHOOK_BACKOFF_S": "0.2",
        "WEBHOOK_BACKOFF_MAX_S": "1",
    }
    with Workers(stack) as ws:  # their heartbeats are in another Redis database: ready is the API's /readyz
        workers = ws.start(PREDICT, CONTROL, env=env, ready=False)
        api = stack.start_api(env=env, workers=1)

        def ready():
            for worker in workers:
                if worker.proc.poll() is not None:
                    raise RuntimeError(f"worker {worker.name} exited:\n{worker.log_text()[-3000:]}")
            return requests.get(f"{api}/readyz", timeout=5).status_code == 200

        procs.wait_until(ready, 90, interval=0.5, what="the webhook stack ready")
        yield api
        ws.stop_all()
        procs.stop(stack.procs[-1])


@pytest.fixture(scope="module")
def box_clip(clips):
    path, _ = clips.clip("webhook-box", seed=31, scenes=[Scene(setting="indoor", objects=("box",), duration_s=2.0)])
    return path


def _submit(api: str, path, callback_url: str) -> str:
    with open(path, "rb") as fh:
        response = requests.post(f"{api}/v1/videos", params={"callback_url": callback_url}, headers=HEADERS,
                                 files={"video": (path.name, fh, "video/mp4")}, timeout=60)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def _delivered(api: str, job_id: str) -> dict:
    """The job body once its webhook is no longer pending or retrying."""
    def settled():
        body = requests.get(f"{api}/v1/jobs/{job_id}", headers=HEADERS, timeout=30).json()
        return body if body.get("webhook", {}).get("status") in ("delivered", "failed") else None

    return procs.wait_until(settled, 120, interval=0.2, what=f"the webhook of job {job_id}")


def _verified(api: str, headers: dict, body: bytes) -> dict:
    secret = requests.get(f"{api}/v1/webhook-secret", headers=HEADERS, timeout=30).json()["secret"]
    assert signing.verify(secret, headers["X-Brigade-Timestamp"], body, headers["X-Brigade-Signature"]), headers
    return json.loads(body)


def test_a_finished_job_is_posted_to_its_callback_signed_with_the_keys_secret(hooked_api, receiver, box_clip):
    job_id = _submit(hooked_api, box_clip, receiver.url("/done"))
    assert wait_job(hooked_api, job_id, api_key=KEY)["status"] == "succeeded"
    job = _delivered(hooked_api, job_id)
    assert job["webhook"]["status"] == "delivered" and job["webhook"]["attempts"] == 1, job["webhook"]

    [(headers, body)] = receiver.received("/done")
    payload = _verified(hooked_api, headers, body)
    assert payload == {k: v for k, v in job.items() if k != "webhook"}  # the body GET /v1/jobs/<id> renders
    assert payload["status"] == "succeeded" and payload["result"]["tags"]
    assert headers["X-Brigade-Event"] == "job.succeeded" and headers["X-Brigade-Job"] == job_id


def test_a_receiver_that_fails_twice_gets_it_on_the_third_attempt(hooked_api, receiver, box_clip):
    receiver.fail_first("/flaky", 2)
    job_id = _submit(hooked_api, box_clip, receiver.url("/flaky"))
    job = _delivered(hooked_api, job_id)
    assert job["webhook"]["status"] == "delivered" and job["webhook"]["attempts"] == 3, job["webhook"]

    posts = receiver.received("/flaky")
    assert [headers["X-Brigade-Attempt"] for headers, _ in posts] == ["1", "2", "3"]
    bodies = [_verified(hooked_api, headers, body) for headers, body in posts]
    assert all(body == bodies[0] for body in bodies)  # the same job body every time, each freshly signed
