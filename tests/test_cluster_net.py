"""The cluster harness's network and data layer (devtools/cluster/): three Redis hosts, each a network
namespace with a redis-server and a Sentinel. The primary's host is lost hard (cable out, SIGKILL);
a Sentinel must promote a replica, and the old primary, restored, must come back as a replica; then
losing the new primary's host fails over again (the restored Sentinel counts once).

Needs root (namespaces, a bridge): where it cannot make them the test fails saying why, it never
skips (CI runs as root). The in-process checks (`unit`) need nothing.
"""

from __future__ import annotations

import ipaddress
import subprocess

import pytest
import redis

from devtools import procs
from devtools.cluster import SIZES, Balance, Cluster, haproxy, net
from devtools.cluster.topology import Size, layout

WAIT_S = 45.0  # bounds only: a failover takes about 5 s (down-after 3 s + election)


@pytest.fixture
def data_cluster(tmp_path):
    cluster = Cluster(tmp_path, SIZES["data"])
    try:
        cluster.start()
    except net.NetUnavailable as exc:
        pytest.fail(f"the cluster harness cannot run here: {exc}")
    yield cluster
    cluster.stop()


def test_a_lost_primary_is_replaced_and_returns_as_a_replica(data_cluster):
    c = data_cluster
    redis_hosts = c.by_role("redis")
    old = c.current_primary()
    assert old == redis_hosts[0].ip, "the first Redis host starts as the primary"
    old_host = next(h.name for h in redis_hosts if h.ip == old)
    primary = c.data.node(old)
    primary.set("before", "1")
    assert primary.execute_command("WAIT", 2, 5000) == 2, "both replicas acknowledge the write"

    c.lose_host(old_host)
    new = procs.wait_until(lambda: (p := c.current_primary()) != old and p, WAIT_S, 0.5, what="a Sentinel to promote a replica")
    assert new in {h.ip for h in redis_hosts[1:]}
    assert c.data.replication(new)["role"] == "master"
    assert c.data.node(new).get("before") == "1", "an acknowledged write survives the failover"
    # min-replicas-to-write 1: the new primary takes writes once the other replica follows it
    procs.wait_until(lambda: _writes(c.data.node(new), "after", "2"), WAIT_S, 0.5, what="writes on the new primary")

    c.restore_host(old_host)
    procs.wait_until(lambda: c.data.replicates(old, new), WAIT_S, 0.5, what="the old primary to replicate the new one")
    returned = c.data.node(old)
    assert returned.info("replication")["role"] == "slave"
    assert returned.get("after") == "2", "the returning host has the writes made while it was away"
    with pytest.raises(redis.ReadOnlyError):
        returned.set("stale", "x")
    # every Sentinel, the restored one too, names the new primary, and each counts exactly two others
    c.wait_data(new, timeout=WAIT_S)

    # so a second loss fails over too: the restored Sentinel's vote counts, no ghost of it raises the majority
    second_host = next(h.name for h in redis_hosts if h.ip == new)
    c.lose_host(second_host)
    third = procs.wait_until(lambda: (p := c.current_primary()) != new and p, WAIT_S, 0.5, what="a second failover")
    assert third in {h.ip for h in redis_hosts} - {new}


def _writes(client: redis.Redis, key: str, value: str) -> bool:
    try:
        return bool(client.set(key, value))
    except redis.RedisError:
        return False


def test_a_crashed_runs_leftovers_are_removed(tmp_path):
    try:
        net.preflight()
    except net.NetUnavailable as exc:
        pytest.fail(f"the cluster harness cannot run here: {exc}")
    stale = net.PREFIX + "stale1"
    net.ip("netns", "add", stale)
    sleeper = subprocess.Popen(procs.in_netns(stale, ["sleep", "300"]), start_new_session=True)
    try:
        removed = net.remove_stale()
        assert f"namespace {stale}" in removed
        assert stale not in net.namespaces()
        assert sleeper.wait(10) == -9, "a process left in a stale namespace is killed"
    finally:
        if sleeper.poll() is None:
            procs.kill(sleeper)
        if stale in net.namespaces():
            net.ip("netns", "delete", stale)


# --- in-process checks ---------------------------------------------------------------------------


@pytest.mark.unit
def test_not_root_fails_with_the_reason(monkeypatch):
    monkeypatch.setattr(net.os, "geteuid", lambda: 1000)
    with pytest.raises(net.NetUnavailable, match="must run as root"):
        net.preflight()


@pytest.mark.unit
def test_a_subnet_in_use_is_a_collision():
    subnet = ipaddress.IPv4Network("10.213.18.0/24")
    addrs = "2: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\n5: br1    inet 10.213.18.7/16 scope global br1\n"
    routes = "default via 192.0.2.1 dev eth0\n192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2\n" \
             "local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1\n10.213.0.0/16 via 192.0.2.1 dev eth0\n"
    found = net.collisions(subnet, addrs, routes)
    assert found == ["address 10.213.18.7/16 on br1", "route 10.213.0.0/16 via 192.0.2.1 dev eth0"]
    mine = "2: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\n"
    assert net.collisions(subnet, mine, "default via 192.0.2.1 dev eth0\n192.0.2.0/24 dev eth0 scope link\n") == []


@pytest.mark.unit
def test_layout_gives_each_role_its_block_of_addresses():
    hosts = layout(Size(api=3, predict=1, shard=0, control=0, events=0), ipaddress.IPv4Network("10.9.8.0/24"))
    assert [(h.name, h.ip) for h in hosts] == [
        ("redis1", "10.9.8.11"), ("redis2", "10.9.8.12"), ("redis3", "10.9.8.13"), ("lb1", "10.9.8.21"),
        ("api1", "10.9.8.31"), ("api2", "10.9.8.32"), ("api3", "10.9.8.33"), ("predict1", "10.9.8.41")]
    with pytest.raises(ValueError, match="3 Redis hosts"):
        Size(redis=2)


@pytest.mark.unit
def test_haproxy_config_checks_readiness_and_weighs_servers(tmp_path):
    servers = [("api1", "10.9.8.31", 8000), ("api2", "10.9.8.32", 8000), ("api3", "10.9.8.33", 8000)]
    cfg = haproxy.config("10.9.8.21", servers, Balance.parse("weighted"), tmp_path / "s.sock")
    for line in ("bind 10.9.8.21:8080", "balance roundrobin", "http-check send meth GET uri /readyz",
                 "http-check expect status 200", "default-server check inter 1s fall 2 rise 2", "option redispatch",
                 "retries 2", "timeout server 75s", f"stats socket {tmp_path / 's.sock'} mode 600 level admin",
                 "server api1 10.9.8.31:8000 weight 3", "server api2 10.9.8.32:8000 weight 2", "server api3 10.9.8.33:8000 weight 1"):
        assert f"    {line}\n" in cfg, line
    assert "weight 1" in haproxy.config("10.9.8.21", servers[:1], Balance("leastconn"), tmp_path / "s.sock")
    with pytest.raises(ValueError):
        Balance("random")


@pytest.mark.unit
def test_show_stat_csv_is_read_by_its_header():
    text = ("# pxname,svname,qcur,scur,smax,stot,status,weight,check_status,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,\n"
            "api_in,FRONTEND,,1,2,30,OPEN,,,0,10,0,20,0,0,\n"
            "api,api1,0,0,1,12,UP,3,L7OK,0,4,0,8,0,0,\n"
            "api,api2,0,0,1,18,DOWN,2,L7STS,0,6,0,12,0,0,\n"
            "api,BACKEND,0,0,2,30,UP,5,,0,10,0,20,0,0,\n\n")
    rows = haproxy.parse_stat(text)
    assert [r["svname"] for r in rows] == ["FRONTEND", "api1", "api2", "BACKEND"]
    assert rows[1]["stot"] == "12" and rows[2]["status"] == "DOWN"


@pytest.mark.unit
def test_haproxys_own_503_is_a_problem_with_retry_after():
    """When no API host passes /readyz (all of them, during a store failover), the answer a client
    gets is HAProxy's: it must tell when to retry, as the API's own 503 does."""
    import json

    from app.errors import RETRY_AFTER_S

    line = haproxy.no_server_ready()
    assert line.startswith("    http-error status 503 content-type application/problem+json string '")
    body = json.loads(line.split(" string '", 1)[1].split("' hdr ", 1)[0])
    assert body["status"] == 503 and body["type"].endswith("/no-api-ready") and "retry later" in body["detail"]
    assert f"hdr Retry-After {RETRY_AFTER_S}" in line
