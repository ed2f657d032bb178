"""SHARD_ROUTING=hash: segments map to `shard.<n>` by a stable hash; a standby serves the queue of
a shard whose worker is gone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from brigade import heartbeats
from brigade.sharding import shard_for
from devtools import procs
from tests.stack import CONTROL, Workers, WorkerSpec, submit, wait_job

HASH_ENV = {"SHARD_ROUTING": "hash", "NUM_SHARDS": "2"}


def test_the_same_segment_always_maps_to_the_same_shard():
    keys = [f"{'ab' * 32}:{i * 30:.3f}-{(i + 1) * 30:.3f}" for i in range(200)]
    first = [shard_for(k, 2) for k in keys]
    assert first == [shard_for(k, 2) for k in keys]
    assert 60 < sum(first) < 140  # both shards get work
    # ... and in another process (Python's own str hash would differ there)
    code = f"from brigade.sharding import shard_for; print([shard_for(k, 2) for k in {keys[:20]!r}])"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert other.strip() == str(first[:20])


@pytest.fixture(scope="module")
def hash_pool(stack):
    with Workers(stack) as ws:  # one after the other: the standby starts once shard.0 has its primary
        control = ws.one(CONTROL, env=HASH_ENV)
        shard0 = ws.one(WorkerSpec("shard.0", pool="solo", prefix="shard0-"), env=HASH_ENV)
        standby = ws.one(WorkerSpec("segments", pool="solo", prefix="standby", env={"SHARD_STANDBY": "true"}), env=HASH_ENV)
        yield control, shard0, standby


def test_the_standby_serves_the_queue_of_a_missing_shard(api, hash_pool, clips):
    _, shard0, standby = hash_pool

    def _standby_took_shard1():
        mine = [r for r in heartbeats.list_replicas("shard.1") if r["hostname"] == standby.name]
        return mine or None

    procs.wait_until(_standby_took_shard1, 30, what="standby taking over shard.1")
    path, _ = clips.clip("hash-routed", seed=31, duration_s=90.0, width=160, height=120, fps=8)
    body = wait_job(api, submit(api, path, mode="sharded").json()["job_id"], timeout=180)
    assert body["status"] == "succeeded", body
    assert body["result"]["segments"]
    workers = {seg["worker"].split(":")[0] for seg in body["result"]["segments"]}
    assert workers <= {shard0.name, standby.name}
    assert standby.name in workers  # shard.1's segments ran on the standby
    assert all(r["hostname"] != shard0.name for r in heartbeats.list_replicas("shard.1"))
