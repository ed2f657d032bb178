"""Transient faults against a real stack of its own (a private Redis, the API under gunicorn, one
predict replica): a Redis that stalls (SIGSTOP) while a job is in flight costs the client a prompt
503 with Retry-After, never a 500 or a hung request, and loses no accepted job."""

from __future__ import annotations

import os
import signal
import time

import pytest
import requests

from devtools import procs
from devtools.localstack import LocalStack
from models.build.synth import Scene
from tests.appkit import problem
from tests.stack import PREDICT, Workers, submit, wait_job

STALL_S = 8.0  # longer than HEARTBEAT_TTL_S (2.5 s in the suite): every heartbeat lapses meanwhile


@pytest.fixture(scope="module")
def own_stack(tmp_root):
    root = tmp_root / "faults"
    root.mkdir()
    stack = LocalStack(root)
    port = procs.free_port()
    redis_proc = procs.spawn(procs.redis_command(port, root, persist=False), log_path=stack.logs / "redis.log")
    stack.procs.append(redis_proc)
    procs.wait_for_port(port)
    env = {"REDIS_URL": f"redis://127.0.0.1:{port}/0"}
    with Workers(stack) as ws:  # its heartbeats are in the private Redis: ready is the API's /readyz
        worker = ws.one(PREDICT, env=env, ready=False)
        api = stack.start_api(env=env, workers=1)

        def _ready():
            if worker.proc.poll() is not None:
                raise RuntimeError(worker.log_text()[-3000:])
            return requests.get(f"{api}/readyz", timeout=10).status_code == 200

        procs.wait_until(_ready, 120, what="the fault stack's replica ready")
        yield api, redis_proc, worker
    stack.stop_all()


def test_a_stalled_redis_answers_503_with_retry_after_and_loses_no_accepted_job(own_stack, clips):
    api, redis_proc, worker = own_stack
    path, _ = clips.clip("fault-park", seed=31, scenes=[Scene(setting="park", lighting="day", objects=("ball",),
                                                               moving=True, duration_s=8.0, look=1)])
    accepted = submit(api, path)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["job_id"]

    os.kill(redis_proc.pid, signal.SIGSTOP)
    try:
        during = submit(api, path)
        problem(during, 503, "store-unavailable")
        assert during.headers.get("Retry-After") == "5", during.text
        read = requests.get(f"{api}/v1/jobs/{job_id}", timeout=60)
        assert read.status_code == 503 and "Retry-After" in read.headers, (read.headers, read.text)
        assert requests.get(f"{api}/healthz", timeout=60).status_code == 200  # liveness never needs Redis
        time.sleep(STALL_S)  # the stall goes on while the replica holds the job
    finally:
        os.kill(redis_proc.pid, signal.SIGCONT)

    body = wait_job(api, job_id, timeout=300)
    assert body["status"] == "succeeded", body  # the transient fault delayed the job; it did not lose it
    assert worker.proc.poll() is None
    again = submit(api, path)
    assert again.status_code == 202 and wait_job(api, again.json()["job_id"], timeout=300)["status"] == "succeeded"
