"""A Debian package's program, installed with apt-get when it is missing: the harness needs a few
system programs (Chromium for the web page test, HAProxy for the cluster) that no wheel ships.
Only as root, and never silently: a program that cannot be had raises `Unavailable` saying why,
and the caller decides whether that skips (a test of an optional extra) or fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

TIMEOUT_S = 900


class Unavailable(RuntimeError):
    """The program is missing and could not be installed here; the message says why."""


def _apt_get(*args: str, timeout: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", "-qq", *args], env=env, capture_output=True, text=True, timeout=timeout)


def ensure(program: Path, packages: list[str], timeout: float = TIMEOUT_S) -> Path:
    """`program` (an absolute path), after `apt-get install packages` if it is missing (a fresh
    machine has no package lists yet: then `apt-get update` and one more try)."""
    if program.exists():
        return program
    wanted = " ".join(packages)
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise Unavailable(f"{program} is missing and cannot be installed here (needs root and apt-get): `apt-get install {wanted}`")
    install = ("install", "-y", "--no-install-recommends", *packages)
    try:
        done = _apt_get(*install, timeout=timeout)
        if done.returncode != 0:
            _apt_get("update", timeout=timeout)
            done = _apt_get(*install, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise Unavailable(f"installing {wanted} with apt-get took over {exc.timeout:.0f} s") from exc
    if done.returncode != 0 or not program.exists():
        raise Unavailable(f"apt-get could not install {wanted}: {done.stderr.strip()[-600:]}")
    return program
