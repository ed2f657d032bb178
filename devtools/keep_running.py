"""`python -m devtools.keep_running NAME -- CMD…`: run CMD, and run it again when it exits on its own.

`make run` starts every service under honcho, which stops the whole stack as soon as any one
process exits: one worker killed by the kernel's OOM killer took the API and every other worker
down with it. Under this supervisor a service that dies is restarted after a backoff (1 s,
doubling up to MAX_BACKOFF_S; back to 1 s once it has run STABLE_S), as a container's restart
policy would. SIGTERM/SIGINT/SIGHUP are passed on to the service, which then stops for good, so
Ctrl-C still stops everything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

MAX_BACKOFF_S = 30.0
STABLE_S = 60.0
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def supervise(name: str, cmd: list[str]) -> int:
    stopping: list[int] = []
    child: subprocess.Popen | None = None

    def forward(signum, _frame):
        stopping.append(signum)
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    backoff = 1.0
    while True:
        began = time.monotonic()
        child = subprocess.Popen(cmd)
        code = child.wait()
        if stopping:
            return code
        backoff = 1.0 if time.monotonic() - began >= STABLE_S else min(MAX_BACKOFF_S, backoff * 2)
        print(f"[keep_running] {name} exited with {code}; restarting in {backoff:g} s", file=sys.stderr, flush=True)
        deadline = time.monotonic() + backoff
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if stopping:
            return code


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        sys.exit("usage: python -m devtools.keep_running NAME -- CMD...")
    sys.exit(supervise(args[0], args[2:]))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
