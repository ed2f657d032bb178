"""Redis through Sentinel, on loopback: three Redis nodes (a primary, two replicas), three
Sentinels (quorum 2), the real API and a real predict worker configured with REDIS_SENTINELS and
REDIS_MIN_REPLICAS_ACK=1. The primary is killed (SIGKILL, no clean shutdown) under a stream of
job submissions: every answer is a 2xx or a 503 with Retry-After (never a 500), jobs accepted
before and after the failover all succeed, and the old primary comes back as a replica with
nothing lost. (The same on hosts of their own, a partition included: tests/test_cluster_*.py.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
import requests

from brigade import heartbeats, jobs
from devtools import procs
from devtools.localstack import wait_for_job
from devtools.run_stack import write_private
from tests.stack import PREDICT

PASSWORD, SENTINEL_PASSWORD, MASTER = "store-pw", "sentinel-pw", "brigade"


class LoopbackRedisHA:
    """Three redis-server nodes and three Sentinels on free loopback ports (the harness's config
    builders, devtools/procs.py)."""

    def __init__(self, root: Path):
        self.root = root
        self.ports = [procs.free_port() for _ in range(3)]
        self.sentinel_ports = [procs.free_port() for _ in range(3)]
        self.nodes: dict[int, object] = {}
        self.sentinels = []

    def start_node(self, port: int, replica_of: int | None) -> None:
        folder = self.root / f"redis-{port}"
        folder.mkdir(exist_ok=True)
        config = folder / "redis.conf"
        write_private(config, procs.redis_node_config("127.0.0.1", PASSWORD, replica_of and f"127.0.0.1:{replica_of}", port=port))
        self.nodes[port] = procs.spawn(procs.redis_node_command(config, folder), log_path=folder / "log")
        procs.wait_for_port(port)

    def start(self) -> None:
        primary = self.ports[0]
        for port in self.ports:
            self.start_node(port, None if port == primary else primary)
        for port in self.sentinel_ports:
            config = self.root / f"sentinel-{port}.conf"
            write_private(config, procs.sentinel_config("127.0.0.1", SENTINEL_PASSWORD, "127.0.0.1", PASSWORD, port=port,
                                                        redis_port=primary, master_name=MASTER))
            self.sentinels.append(procs.spawn(procs.sentinel_command(config), log_path=self.root / f"sentinel-{port}.log"))
        procs.wait_until(self._watching_all, 60, 0.2, what="3 Sentinels watching the primary and 2 replicas")

    def sentinel(self, port: int) -> redis.Redis:
        return redis.Redis("127.0.0.1", port, password=SENTINEL_PASSWORD, socket_timeout=1, decode_responses=True)

    def node(self, port: int) -> redis.Redis:
        return redis.Redis("127.0.0.1", port, password=PASSWORD, socket_timeout=1, decode_responses=True)

    def _watching_all(self) -> bool:
        try:
            states = [self.sentinel(p).sentinel_master(MASTER) for p in self.sentinel_ports]
        except redis.RedisError:
            return False
        return all(s["num-slaves"] == 2 and s["num-other-sentinels"] == 2 for s in states)

    def primary_port(self) -> int | None:
        try:
            return int(self.sentinel(self.sentinel_ports[1]).sentinel_get_master_addr_by_name(MASTER)[1])
        except (redis.RedisError, TypeError):
            return None

    def store(self) -> redis.Redis:
        """A client of whichever node is primary now, as the app finds it."""
        hosts = [("127.0.0.1", p) for p in self.sentinel_ports]
        return redis.sentinel.Sentinel(hosts, sentinel_kwargs={"password": SENTINEL_PASSWORD, "socket_timeout": 1}).master_for(
            MASTER, password=PASSWORD, socket_timeout=1, decode_responses=True)

    def app_env(self) -> dict[str, str]:
        return {"REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports), "REDIS_MASTER_NAME": MASTER,
                "REDIS_URL": f"redis://:{PASSWORD}@unused:1/0", "REDIS_SENTINEL_PASSWORD": SENTINEL_PASSWORD,
                "REDIS_MIN_REPLICAS_ACK": "1", "REDIS_ACK_TIMEOUT_MS": "1000", "RECONCILE_INTERVAL_S": "2"}

    def stop(self) -> None:
        for proc in [*self.sentinels, *self.nodes.values()]:
            procs.kill(proc)


@pytest.fixture
def redis_ha(tmp_path):
    ha = LoopbackRedisHA(tmp_path)
    ha.start()
    yield ha
    ha.stop()


def _post_echo(api: str, payload: str) -> requests.Response:
    return requests.post(f"{api}/v1/echo", json={"payload": payload}, timeout=30)


def test_a_lost_primary_costs_503s_then_the_new_one_serves_and_nothing_accepted_is_lost(redis_ha, stack, workers):
    env = redis_ha.app_env()
    api = stack.start_api(env=env, workers=1)
    worker = workers.one(PREDICT, env=env, ready=False)  # its heartbeats: in the Sentinel-watched Redis
    store = redis_ha.store()
    procs.wait_until(lambda: any(r["hostname"] == worker.name for r in heartbeats.list_replicas(ready_only=True, client=store)),
                     120, what="the worker ready, through Sentinel")

    before = _post_echo(api, "before")
    assert before.status_code in (200, 202), before.text
    accepted = [before.json()["job_id"]]

    old_primary = redis_ha.primary_port()
    procs.kill(redis_ha.nodes[old_primary])  # a hard loss: no shutdown, no last AOF flush

    answers = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        response = _post_echo(api, f"during-{len(answers)}")
        answers.append(response)
        if response.status_code in (200, 202):
            accepted.append(response.json()["job_id"])
            if redis_ha.primary_port() not in (None, old_primary):
                break
        else:
            time.sleep(0.2)
    refused = [r for r in answers if r.status_code not in (200, 202)]
    print(f"{len(answers)} answers during the failover, {len(refused)} refused")
    assert refused, "the store was down for seconds: some submission must have met it"
    assert all(r.status_code == 503 and r.headers.get("Retry-After") for r in refused), \
        [(r.status_code, r.text[:200]) for r in refused]
    new_primary = redis_ha.primary_port()
    assert new_primary not in (None, old_primary), "Sentinel promoted no replica"

    for job_id in accepted:  # every acknowledged job survived the failover and ran
        assert wait_for_job(api, job_id, timeout=120)["status"] == jobs.SUCCEEDED

    redis_ha.start_node(old_primary, replica_of=new_primary)  # it comes back as what Sentinel says it is now
    procs.wait_until(lambda: redis_ha.node(old_primary).info("replication").get("master_link_status") == "up", 60,
                     what="the old primary replicating the new one")
    assert redis_ha.node(old_primary).info("replication")["role"] == "slave"
    with pytest.raises(redis.ReadOnlyError):
        redis_ha.node(old_primary).set("brigade:probe", "stale write")
    store = redis_ha.store()
    assert all(store.exists(f"brigade:job:{job_id}") for job_id in accepted)
    assert list(store.scan_iter(match="LIMITS:*")), "the rate limiter counts in the store too, through Sentinel"
    try:  # the worker rode it out: it beats, ready, on the new primary
        procs.wait_until(lambda: any(r["hostname"] == worker.name for r in heartbeats.list_replicas(ready_only=True, client=store)),
                         30, what="the worker ready on the new primary")
    except TimeoutError:
        pytest.fail(f"no ready heartbeat on the new primary:\n{worker.log_text()[-4000:]}")
