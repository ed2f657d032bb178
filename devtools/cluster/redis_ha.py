"""The data layer of the cluster: a redis-server and a Sentinel on each Redis host, the first
primary, the others its replicas, watched by every Sentinel under MASTER_NAME (quorum 2).

Config files come from devtools.procs (one definition for the harness, `make run` and the deploy
files) and hold the passwords (mode 0600): never argv. This module writes them for a host and
asks the layer what it is now (who is primary, who replicates whom) from the root namespace."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import redis

from devtools import procs
from devtools.run_stack import write_private

MASTER_NAME = "brigade"
QUORUM = 2
TIMEOUT_S = 1.0  # a query to a host that is cut off fails after this, instead of hanging


def sentinel_id(config: Path) -> str | None:
    """The `sentinel myid` a Sentinel wrote into its config file (it does at its first start)."""
    if not config.exists():
        return None
    for line in config.read_text().splitlines():
        words = line.split()
        if words[:2] == ["sentinel", "myid"] and len(words) == 3:
            return words[2]
    return None


class DataLayer:
    """The Redis hosts' files and the queries the harness makes. `root`: the cluster's run folder
    (each host's files under hosts/<name>/)."""

    def __init__(self, root: Path, ips: list[str], password: str, sentinel_password: str):
        self.root = root
        self.ips = ips
        self.password = password
        self.sentinel_password = sentinel_password

    def folder(self, host: str) -> Path:
        """The host's folder, mode 0700: Sentinel rewrites its config file as a new 0644 file, and
        that file holds the passwords."""
        path = self.root / "hosts" / host
        (path / "redis").mkdir(parents=True, exist_ok=True)
        path.chmod(0o700)
        return path

    def commands(self, host: str, ip: str, replica_of: str | None, primary: str) -> list[tuple[str, list[str]]]:
        """(name, argv) of the host's redis-server and Sentinel, after (re)writing their config files:
        the node as a replica of `replica_of` (None: primary), the Sentinel watching `primary` under
        the id it had (procs.sentinel_config says why)."""
        folder = self.folder(host)
        node, sentinel = folder / "redis.conf", folder / "sentinel.conf"
        write_private(node, procs.redis_node_config(ip, self.password, replica_of))
        write_private(sentinel, procs.sentinel_config(ip, self.sentinel_password, primary, self.password, master_name=MASTER_NAME,
                                                      quorum=QUORUM, myid=sentinel_id(sentinel)))
        return [("redis", procs.redis_node_command(node, folder / "redis")),
                ("sentinel", procs.sentinel_command(sentinel))]

    def node(self, ip: str) -> redis.Redis:
        return redis.Redis(ip, procs.REDIS_PORT, password=self.password, socket_timeout=TIMEOUT_S,
                           socket_connect_timeout=TIMEOUT_S, decode_responses=True)

    def sentinel(self, ip: str) -> redis.Redis:
        return redis.Redis(ip, procs.SENTINEL_PORT, password=self.sentinel_password, socket_timeout=TIMEOUT_S,
                           socket_connect_timeout=TIMEOUT_S, decode_responses=True)

    def primary(self, ips: list[str] | None = None) -> str | None:
        """The primary's address as the Sentinels on `ips` (default: all) name it: the answer most of
        those that answer give (SENTINEL get-master-addr-by-name); None when none answers."""
        answers = []
        for ip in ips or self.ips:
            try:
                addr = self.sentinel(ip).execute_command("SENTINEL", "get-master-addr-by-name", MASTER_NAME)
            except redis.RedisError:
                continue
            if addr:
                answers.append(addr[0])
        return Counter(answers).most_common(1)[0][0] if answers else None

    def replication(self, ip: str) -> dict | None:
        """INFO replication of the node at `ip` (role, master_host, master_link_status, connected_slaves,
        slaveN...); None when it does not answer."""
        try:
            return self.node(ip).info("replication")
        except redis.RedisError:
            return None

    def replicates(self, ip: str, primary: str) -> bool:
        """Whether `ip` is a replica of `primary` with its link up (synced)."""
        info = self.replication(ip) or {}
        return info.get("role") == "slave" and info.get("master_host") == primary and info.get("master_link_status") == "up"

    def sentinels_agree(self, primary: str, sentinels: list[str], replicas: int) -> bool:
        """Whether each Sentinel on `sentinels` names `primary`, knows `replicas` replicas of it and
        exactly the other Sentinels (so a quorum can form and a majority authorise a failover; one
        counted twice would raise the majority needed)."""
        for ip in sentinels:
            try:
                master = self.sentinel(ip).execute_command("SENTINEL", "master", MASTER_NAME)
            except redis.RedisError:
                return False
            fields = dict(zip(master[::2], master[1::2])) if isinstance(master, list) else master
            if (fields.get("ip") != primary or int(fields.get("num-slaves", 0)) < replicas
                    or int(fields.get("num-other-sentinels", 0)) != len(self.ips) - 1):
                return False
        return True

    def app_env(self) -> dict[str, str]:
        """What the API and the workers need to find the primary through Sentinel (brigade/settings.py)."""
        return {
            "REDIS_SENTINELS": ",".join(f"{ip}:{procs.SENTINEL_PORT}" for ip in self.ips),
            "REDIS_MASTER_NAME": MASTER_NAME,
            # With Sentinel only its password and db are used; the host comes from Sentinel.
            "REDIS_URL": f"redis://:{self.password}@{self.ips[0]}:{procs.REDIS_PORT}/0",
            "REDIS_SENTINEL_PASSWORD": self.sentinel_password,
            "REDIS_MIN_REPLICAS_ACK": "1",  # the API WAITs for one replica before it answers 202
            "REDIS_ACK_TIMEOUT_MS": "1000",
        }
