"""`python -m worker.alive <node>`, the liveness check of every worker pool (docker-compose.yml,
deploy/k8s/worker-*.yaml), against the session's test Redis: a live host heartbeat is alive, a
lapsed one is dead, a task running far past its hard time limit is a wedged worker, and a Redis
that does not answer is no reason to restart anyone. Also through a Sentinel (REDIS_SENTINELS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from brigade import heartbeats
from brigade.redis_client import redis_client
from brigade.settings import ROOT, Settings, get_settings
from devtools import procs
from worker import alive
from worker.tracking import running_key

pytestmark = pytest.mark.app  # its layer (tests/conftest.py): the test Redis (and a Sentinel of it), no worker


@pytest.fixture
def name(redis_server, request):
    """A worker name of this test's own, with nothing of it left in Redis afterwards."""
    worker = f"gpu@{request.node.name[:40]}"
    yield worker
    heartbeats.remove_host(worker)
    redis_client().delete(running_key())


def _check(name: str, settings: Settings | None = None) -> alive.Verdict:
    settings = settings or get_settings()
    return alive.check(name, alive.probe_client(settings), settings)


def _running(name: str, task_id: str, started: float, process: str | None = "proc") -> None:
    """A record of worker/tracking.py's `running` hash: `process` None is received, not started."""
    entry = {"hostname": name, "process": process and f"{name}:{process}", "task": "tasks.sharded.segment",
             "job_id": None, "started": started}
    redis_client().hset(running_key(), task_id, json.dumps(entry))


def test_a_live_host_heartbeat_is_alive_and_a_lapsed_one_dead(name):
    heartbeats.publish_host(name)
    verdict = _check(name)
    assert verdict.alive and verdict.reason.startswith(f"{name}: alive, host heartbeat"), verdict
    heartbeats.remove_host(name)
    verdict = _check(name)
    assert not verdict.alive and "dead" in verdict.reason and heartbeats.host_key(name) in verdict.reason, verdict
    redis_client().set(heartbeats.host_key(name), "1", px=1)  # lapses at once
    procs.wait_until(lambda: redis_client().pttl(heartbeats.host_key(name)) < 0, 5, what="the key to expire")
    assert not _check(name).alive


def test_a_busy_worker_is_alive_and_a_wedged_one_is_not(name):
    """Busy: a task of it has run a while (the solo pool answers no ping then). Wedged: one still
    runs well past TASK_TIME_LIMIT_S, which solo and threads pools cannot enforce."""
    settings = get_settings()
    heartbeats.publish_host(name)
    overdue = time.time() - settings.TASK_TIME_LIMIT_S - alive.OVERRUN_GRACE_S - 5
    _running(name, "busy", time.time() - settings.TASK_TIME_LIMIT_S / 2)
    _running(name, "received-long-ago", overdue, process=None)  # prefetched behind a long task: not running
    _running("gpu@another-host", "not-ours", overdue)
    assert _check(name).alive
    _running(name, "stuck", overdue)
    verdict = _check(name)
    assert not verdict.alive and "wedged: task stuck" in verdict.reason and "TASK_TIME_LIMIT_S" in verdict.reason, verdict


def test_redis_not_answering_is_unknown_and_no_reason_to_restart(name):
    closed = procs.free_port()  # nothing listens there: refused at once
    for env in ({"REDIS_URL": f"redis://127.0.0.1:{closed}/0"},
                {"REDIS_URL": f"redis://127.0.0.1:{closed}/0", "REDIS_SENTINELS": f"127.0.0.1:{closed}"}):
        verdict = _check(name, Settings.from_env(env))
        assert verdict.alive and "unknown, Redis did not answer" in verdict.reason, (env, verdict)


def test_through_a_sentinel(name, redis_server, tmp_path):
    """REDIS_SENTINELS set: the probe asks the Sentinel for the primary (the test Redis here)."""
    port = procs.free_port()
    redis_port = int(redis_server.rsplit(":", 1)[1].split("/")[0])
    config = tmp_path / "sentinel.conf"
    config.write_text(f"port {port}\nbind 127.0.0.1\nsentinel monitor brigade 127.0.0.1 {redis_port} 1\n")
    sentinel = procs.spawn(procs.sentinel_command(config), log_path=tmp_path / "sentinel.log")
    try:
        procs.wait_for_port(port)
        settings = Settings.from_env({"REDIS_URL": redis_server, "REDIS_SENTINELS": f"127.0.0.1:{port}"})
        assert settings.store_url.startswith("sentinel://")
        assert not _check(name, settings).alive
        heartbeats.publish_host(name)
        assert _check(name, settings).alive
    finally:
        procs.stop(sentinel)


def test_the_command_names_this_host_as_celery_does_and_exits_by_its_verdict(name):
    from celery.utils.nodenames import host_format

    assert alive.worker_name("gpu") == host_format("gpu@%h")
    assert alive.worker_name("gpu@%h") == host_format("gpu@%h")
    assert alive.worker_name("gpu@elsewhere") == "gpu@elsewhere"

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "worker.alive", *args], capture_output=True, text=True, timeout=60,
                              cwd=ROOT, env={**os.environ, "REDIS_URL": get_settings().REDIS_URL})

    dead = run(name)
    assert dead.returncode == 1 and dead.stdout.count("\n") == 1 and "dead" in dead.stdout, dead
    heartbeats.publish_host(name)
    live = run(name)
    assert live.returncode == 0 and live.stdout.startswith(f"{name}: alive"), live
    assert run().returncode == 2
