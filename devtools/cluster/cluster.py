"""`Cluster`: Brigade on a cluster of hosts on this machine (network namespaces, devtools/cluster/net.py),
and the operations a chaos run needs: lose a host (a hard loss), bring it back, cut it off (alone, or
a few together: an island), heal it, and ask who the Redis primary is now.

Every process runs in its host's namespace under devtools.procs.spawn (its own process group), with
the command lines `make run` uses; the hosts share this machine's filesystem (one UPLOAD_DIR, one
model store), as hosts sharing a volume would. Everything the cluster made is undone by `stop()`,
which runs on the way out of `with Cluster(...)`, on an exception in `start()` and at exit.
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from devtools import procs
from devtools.cluster import haproxy, net
from devtools.cluster.redis_ha import DataLayer
from devtools.cluster.topology import SIZES, Host, Size, layout

API_PORT = 8000
READY_TIMEOUT_S = 240.0  # every host's torch import and model warm-up, on 2 shared cores
DATA_TIMEOUT_S = 40.0  # Sentinel finds the replicas by polling INFO every 10 s
FAILOVER_WAIT_S = 30.0  # down-after 3 s + election + promotion, with room
STOP_TIMEOUT_S = 10.0


@dataclass
class Proc:
    """One process of a host: the same argv and environment every time it is (re)started."""

    host: str
    name: str
    cmd: list[str]
    env: dict[str, str]
    log: Path
    worker: str | None = None  # the Celery worker's name (-n), whose heartbeat says it is ready
    popen: subprocess.Popen | None = None


class Cluster:
    """`root`: the run folder (config files, data, logs, the upload folder), emptied at start.
    `env`: added to every API and worker process's environment (after the cluster's own)."""

    def __init__(self, root: Path, size: Size = SIZES["full"], *, balance: haproxy.Balance = haproxy.Balance(),
                 env: dict[str, str] | None = None, api_workers: int = 1):
        self.root = Path(root)
        self.size = size
        self.balance = balance
        self.extra_env = dict(env or {})
        self.api_workers = api_workers
        self.hosts: dict[str, Host] = {}
        self.procs: dict[str, list[Proc]] = {}
        self.cut: set[str] = set()  # hosts lost or partitioned: unreachable now
        self.lost: set[str] = set()  # hosts whose processes were killed (restore_host brings them back)
        self.islanded: list[str] = []  # hosts cut off together (island), which reach one another
        self.net: net.Net | None = None
        self.data: DataLayer | None = None

    # --- life cycle ------------------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> Cluster:
        """Make the network, then start the data layer, the load balancer and the rest, in that order.
        net.NetUnavailable / apt.Unavailable (with the reason) where this machine cannot."""
        net.preflight()
        if self.size.lb:
            haproxy.program()  # installed now, before anything is made
        net.remove_stale()
        network = net.subnet()
        for folder in ("hosts", "logs", "uploads"):
            shutil.rmtree(self.root / folder, ignore_errors=True)
        self.hosts = {host.name: host for host in layout(self.size, network)}
        redis_ips = [h.ip for h in self.by_role("redis")]
        self.data = DataLayer(self.root, redis_ips, secrets.token_hex(16), secrets.token_hex(16))
        atexit.register(self.stop)
        try:
            self.net = net.Net(network)
            self.net.up()
            for host in self.hosts.values():
                self.net.add_host(host.name, host.ip)
            self._start_data()
            for host in self.by_role("lb"):
                self._launch(host, self._lb_procs(host))
            for host in self.hosts.values():
                if host.role not in ("redis", "lb"):
                    self._launch(host, self._app_procs(host))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process (SIGTERM, SIGKILL after a while), the apps first, then the load
        balancers, Redis last, then remove the namespaces and the bridge. Safe to call twice."""
        layers = [[r for r in self.hosts.values() if r.role not in ("redis", "lb")], self.by_role("lb"), self.by_role("redis")]
        for layer in layers:
            procs.stop_many([p.popen for h in layer for p in self.procs.get(h.name, []) if p.popen is not None], STOP_TIMEOUT_S)
        self.procs.clear()
        if self.net is not None:
            self.net.down()
            self.net = None
        self.cut.clear()
        self.lost.clear()
        self.islanded = []

    # --- what runs where -----------------------------------------------------------------------------

    def by_role(self, role: str) -> list[Host]:
        return [h for h in self.hosts.values() if h.role == role]

    def log_dir(self, host: str) -> Path:
        path = self.root / "logs" / host
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log_text(self, host: str) -> str:
        """Every log of the host, each under its file name."""
        return "\n".join(f"== {p.name}\n{p.read_text(errors='replace')}" for p in sorted(self.log_dir(host).glob("*.log")))

    def app_env(self) -> dict[str, str]:
        """The environment of every API and worker process: Redis through Sentinel, the shared upload
        folder, quick heartbeats; the broker, results and rate limits all in that Redis; the client's
        address taken from the load balancer's X-Forwarded-For."""
        return {
            "UPLOAD_DIR": str(self.root / "uploads"),
            "HEARTBEAT_INTERVAL_S": "1",
            "HEARTBEAT_TTL_S": "5",
            "PYTHONUNBUFFERED": "1",
            "BROKER_URL": "", "RESULT_BACKEND": "", "RATE_LIMIT_STORAGE_URI": "",
            "TRUSTED_PROXY_HOPS": "1",  # HAProxy's X-Forwarded-For names the client (devtools/cluster/haproxy.py)
            **self.data.app_env(),
            **self.extra_env,
        }

    def _proc(self, host: Host, name: str, cmd: list[str], env: dict | None = None, worker: str | None = None) -> Proc:
        return Proc(host.name, name, cmd, env or {}, self.log_dir(host.name) / f"{name}.log", worker)

    def _redis_procs(self, host: Host, replica_of: str | None, primary: str) -> list[Proc]:
        return [self._proc(host, name, cmd) for name, cmd in self.data.commands(host.name, host.ip, replica_of, primary)]

    def _lb_procs(self, host: Host) -> list[Proc]:
        folder = self.root / "hosts" / host.name
        folder.mkdir(parents=True, exist_ok=True)
        servers = [(h.name, h.ip, API_PORT) for h in self.by_role("api")]
        cfg = folder / "haproxy.cfg"
        cfg.write_text(haproxy.config(host.ip, servers, self.balance, self.stats_socket(host.name)))
        return [self._proc(host, "haproxy", haproxy.command(cfg))]

    def _app_procs(self, host: Host) -> list[Proc]:
        env = self.app_env()
        worker = f"{host.role}@{host.name}"
        if host.role == "api":
            return [self._proc(host, "api", procs.api_command(API_PORT, workers=self.api_workers, host=host.ip), env)]
        cmd = {
            "predict": lambda: procs.worker_command("predict", worker),
            "shard": lambda: procs.worker_command("segments", worker, pool="solo"),
            "control": lambda: procs.worker_command("control", worker, pool="threads", concurrency=4),
            "events": lambda: procs.events_worker_command(worker),
        }[host.role]()
        return [self._proc(host, host.role, cmd, env, worker)]

    def _launch(self, host: Host, host_procs: list[Proc]) -> None:
        for proc in host_procs:
            proc.popen = procs.spawn(procs.in_netns(net.Net.netns(host.name), proc.cmd), proc.env, proc.log)
        self.procs[host.name] = host_procs

    # --- the data layer ------------------------------------------------------------------------------

    def _start_data(self) -> None:
        redis_hosts = self.by_role("redis")
        primary = redis_hosts[0].ip
        for host in redis_hosts:
            self._launch(host, self._redis_procs(host, None if host.ip == primary else primary, primary))
        self.wait_data(primary)

    def wait_data(self, primary: str, timeout: float = DATA_TIMEOUT_S) -> None:
        """Until every reachable replica is synced with `primary` and every reachable Sentinel names
        it and knows its replicas and the other Sentinels (only then can a failover happen)."""
        up = [h.ip for h in self.by_role("redis") if h.name not in self.cut]
        replicas = [ip for ip in up if ip != primary]

        def settled():
            self.check_alive()
            return all(self.data.replicates(ip, primary) for ip in replicas) and \
                self.data.sentinels_agree(primary, up, len(replicas))

        procs.wait_until(settled, timeout, interval=0.5, what=f"Redis replicas synced with {primary} and Sentinels agreeing")

    def current_primary(self) -> str | None:
        """The Redis primary's address, as the reachable Sentinels name it."""
        return self.data.primary([h.ip for h in self.by_role("redis") if h.name not in self.cut])

    def _primary_elsewhere(self, host: Host) -> str:
        """The primary a returning Redis host must follow: once the others have failed over from it.
        If they still name it after FAILOVER_WAIT_S (it came back before they gave up on it), it is
        still the primary and starts as such (it takes no write until a replica follows it:
        min-replicas-to-write)."""
        others = [h.ip for h in self.by_role("redis") if h.name not in self.cut and h.name != host.name]

        def elsewhere():
            primary = self.data.primary(others)
            return primary if primary and primary != host.ip else None

        try:
            return procs.wait_until(elsewhere, FAILOVER_WAIT_S, interval=0.5, what="the Sentinels to name another primary")
        except TimeoutError:
            return self.data.primary(others) or host.ip

    # --- faults ---------------------------------------------------------------------------------------

    def lose_host(self, name: str) -> None:
        """A hard loss: the cable out, then every process of the host SIGKILLed (no clean shutdown)."""
        self.net.link(name, up=False)
        self.cut.add(name)
        self.lost.add(name)
        for proc in self.procs.get(name, []):
            if proc.popen is not None:
                procs.kill(proc.popen)
        self.net.kill_all(name)  # anything that left its process group

    def restore_host(self, name: str) -> None:
        """The cable back in and the host's processes started again, same command lines. A Redis host
        returns as a replica of the current primary (asked from a Sentinel), its Sentinel watching
        that primary: never with the stale primary role its old config had."""
        if name not in self.lost:
            raise ValueError(f"{name} was not lost (its processes run): heal() a partition, restore_host() a lost host")
        host = self.hosts[name]
        self.net.link(name, up=True)
        if host.role == "redis":
            primary = self._primary_elsewhere(host)
            fresh = self._redis_procs(host, None if primary == host.ip else primary, primary)
        else:
            fresh = self.procs[name]
        self.cut.discard(name)
        self.lost.discard(name)
        self._launch(host, fresh)

    def partition(self, name: str) -> None:
        """Cut the host off (cable out); its processes keep running, as across a network partition."""
        self.net.link(name, up=False)
        self.cut.add(name)

    def heal(self, name: str) -> None:
        if name in self.lost:
            raise ValueError(f"{name} was lost, not partitioned: restore_host() starts its processes again")
        self.net.link(name, up=True)
        self.cut.discard(name)

    def island(self, names: list[str]) -> None:
        """Cut `names` off from the rest together: they reach one another and the harness reaches
        them (clients on their side of the split), nothing else does (net.Net.island)."""
        self.net.island(names, reach=[self.hosts[name].ip for name in names])
        self.islanded = sorted(names)
        self.cut.update(names)

    def heal_island(self) -> None:
        self.net.rejoin(self.islanded)
        self.cut.difference_update(self.islanded)
        self.islanded = []

    def check_alive(self) -> None:
        """RuntimeError naming a process that exited on a host the cluster did not lose, with its log."""
        for host, host_procs in self.procs.items():
            for proc in host_procs:
                if host not in self.cut and proc.popen is not None and proc.popen.poll() is not None:
                    tail = proc.log.read_text(errors="replace")[-3000:] if proc.log.exists() else ""
                    raise RuntimeError(f"{proc.name} on {host} exited with {proc.popen.returncode}:\n{tail}")

    # --- the load balancer -----------------------------------------------------------------------------

    def stats_socket(self, lb: str = "lb1") -> Path:
        return self.root / "hosts" / lb / "haproxy.sock"

    @property
    def lb_url(self) -> str:
        """The load balancer's frontend: where clients send requests."""
        return f"http://{self.by_role('lb')[0].ip}:{haproxy.PORT}"

    def lb_servers(self, lb: str = "lb1") -> dict[str, dict]:
        return haproxy.servers(self.stats_socket(lb))

    def set_balance(self, balance: haproxy.Balance, timeout: float = 30.0) -> None:
        """Restart the load balancers with another algorithm (their counters start at 0 again)."""
        self.balance = balance
        for host in self.by_role("lb"):
            for proc in self.procs.get(host.name, []):
                procs.stop(proc.popen)
            self._launch(host, self._lb_procs(host))
        self.wait_lb(timeout)

    def wait_lb(self, timeout: float) -> dict[str, dict]:
        """Until each load balancer sees every API host up (its /readyz answered 200 twice)."""
        wanted = {h.name for h in self.by_role("api") if h.name not in self.cut}

        def all_up():
            self.check_alive()
            seen = {}
            for lb in self.by_role("lb"):
                try:
                    seen = haproxy.servers(self.stats_socket(lb.name))
                except OSError:
                    return None
                if not all(seen.get(name, {}).get("status") == "UP" for name in wanted):
                    return None
            return seen or True

        return procs.wait_until(all_up, timeout, interval=0.5, what=f"HAProxy to see {', '.join(sorted(wanted))} up")

    # --- readiness ---------------------------------------------------------------------------------------

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Until every worker heartbeats ready (the autoscaled events pool, which may have no child at
        idle: its main process's heartbeat) and the load balancers see every API host up."""
        from brigade import heartbeats

        workers = [p for host, ps in self.procs.items() if host not in self.cut for p in ps if p.worker]

        def workers_ready():
            self.check_alive()
            primary = self.current_primary()
            if primary is None:
                return False
            client = self.data.node(primary)
            try:
                ready = {r["hostname"] for r in heartbeats.list_replicas(ready_only=True, client=client)}
                alive = {p.worker for p in workers if client.exists(heartbeats.host_key(p.worker))}
            except Exception:
                return False
            return all(p.worker in ready or (p.name == "events" and p.worker in alive) for p in workers)

        procs.wait_until(workers_ready, timeout, interval=1.0, what="every worker's ready heartbeat")
        if self.by_role("lb"):
            self.wait_lb(timeout)

    def table(self) -> list[tuple[str, str, str, str]]:
        """(host, address, namespace, processes) of every host."""
        return [(h.name, h.ip, net.Net.netns(h.name), ", ".join(p.name for p in self.procs.get(h.name, [])))
                for h in self.hosts.values()]
