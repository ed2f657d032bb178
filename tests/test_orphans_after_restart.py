"""The reaper (worker/reaper.recover_orphans) after a worker restarts under its old name and pid.
A container's restart policy, or a pod's container restarted after a failed liveness probe, runs
the worker again as PID 1 with the same hostname: the same process id and host heartbeat key as
the process that was killed. Its heartbeats must not keep the killed incarnation's tasks looking
alive; those are redelivered at once (`make compose-check` saw a sharded job wait for a segment
that nobody would run again before the broker's visibility timeout, an hour)."""

from __future__ import annotations

import json
import os
import time

import pytest

from brigade import heartbeats
from brigade.redis_client import redis_client
from worker import heartbeat, identity, reaper, tracking

pytestmark = pytest.mark.app  # its layer (tests/conftest.py): the test Redis, no worker

NAME = "gpu@restarted-test"
PROCESS = f"{NAME}:1"  # a container's worker: PID 1, every time


@pytest.fixture
def running(redis_server):
    """Writes a `running` record as an incarnation of the worker wrote it; all cleaned up after."""
    def write(task_id: str, incarnation: str | None, *, process: str | None = PROCESS) -> None:
        entry = {"hostname": NAME, "process": process, "task": "tasks.sharded.tag_segment", "job_id": None,
                 "started": time.time() - 60, **({"incarnation": incarnation} if incarnation else {})}
        redis_client().hset(tracking.running_key(), task_id, json.dumps(entry))

    yield write
    redis_client().delete(tracking.running_key())
    heartbeats.remove(PROCESS)
    heartbeats.remove_host(NAME)


def test_a_task_of_the_killed_incarnation_is_redelivered_though_its_process_id_beats_again(running):
    running("held-by-the-killed-one", "a1a1a1a1")
    running("held-by-the-live-one", "b2b2b2b2")
    running("written-before-incarnations", None)  # an older worker's record: its process id decides
    heartbeats.publish(PROCESS, {"hostname": NAME, "process": PROCESS, "incarnation": "b2b2b2b2"})
    assert reaper.recover_orphans() == ["held-by-the-killed-one"]
    assert set(redis_client().hkeys(tracking.running_key())) == {"held-by-the-live-one", "written-before-incarnations"}


def test_a_message_received_by_the_killed_incarnation_is_redelivered(running):
    running("received-by-the-killed-one", "a1a1a1a1", process=None)
    running("received-by-the-live-one", "b2b2b2b2", process=None)
    heartbeats.publish_host(NAME, "b2b2b2b2")
    assert reaper.recover_orphans() == ["received-by-the-killed-one"]


def test_each_process_has_its_own_incarnation_in_what_it_writes(running, monkeypatch):
    """Drawn once per process: the same for all it writes, another in a forked pool child (and in
    a process started again, which imports worker.identity afresh)."""
    monkeypatch.setattr(identity.WORKER, "hostname", NAME)
    mine = identity.incarnation()
    assert mine == identity.incarnation() and len(mine) == 8
    tracking._track("tracked", NAME, None, "tasks.ops.noop", {})
    assert json.loads(redis_client().hget(tracking.running_key(), "tracked"))["incarnation"] == mine
    heartbeat.publish_heartbeat()
    try:
        assert json.loads(redis_client().get(heartbeats.heartbeat_key(identity.process_id())))["incarnation"] == mine
    finally:
        heartbeats.remove(identity.process_id())
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: report its incarnation, then leave without pytest's clean-up
        os.write(write, identity.incarnation().encode())
        os._exit(0)
    os.close(write)
    theirs = os.read(read, 64).decode()
    os.waitpid(child, 0)
    os.close(read)
    assert theirs and theirs != mine
