"""The reaper against a real Redis broker: a message taken by a worker that then died (before or
while running it) goes back to its queue at once; a live worker's message stays where it is."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from brigade import heartbeats
from brigade.redis_client import redis_client
from worker.reaper import recover_orphans
from worker.tracking import running_key

# Takes one message from `predict` without acking it, then dies without closing anything, as a
# SIGKILLed worker would: the message is left in kombu's unacked hash, invisible to other workers.
TAKE_AND_DIE = """
import os
from worker.celery_app import app
conn = app.connection_for_read()
message = conn.default_channel.basic_get("predict", no_ack=False)
print(message.headers["id"], flush=True)
os._exit(0)  # no ack, no close: closing would hand the message back
"""


def _predict_depth(client) -> int:
    return client.llen("predict")


@pytest.fixture
def orphan(redis_server):
    """A task message taken by a dead worker `ghost@test`, with its receipt recorded."""
    from worker.celery_app import app

    client = redis_client()
    client.delete("predict")
    app.send_task("tasks.ops.noop", args=[1], queue="predict")
    taken = subprocess.run([sys.executable, "-c", TAKE_AND_DIE], capture_output=True, text=True, check=True)
    task_id = taken.stdout.strip()
    assert _predict_depth(client) == 0  # the message is out of the queue, unacked
    entry = {"hostname": "ghost@test", "process": None, "task": "tasks.ops.noop", "job_id": None,
             "started": time.time() - 60}
    client.hset(running_key(), task_id, json.dumps(entry))
    yield task_id
    client.hdel(running_key(), task_id)
    client.delete("predict", heartbeats.host_key("ghost@test"))


def test_a_message_held_by_a_dead_worker_goes_back_to_its_queue(orphan):
    client = redis_client()
    recover_orphans()  # (a live worker's housekeeping may have got there first: the end state counts)
    assert _predict_depth(client) == 1
    assert not client.hexists(running_key(), orphan)


def test_a_message_held_by_a_live_worker_stays_with_it(orphan):
    client = redis_client()
    heartbeats.publish_host("ghost@test")
    assert recover_orphans() == []
    assert _predict_depth(client) == 0
