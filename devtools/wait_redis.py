"""`python -m devtools.wait_redis -- CMD…`: wait until REDIS_URL answers, then exec CMD."""

from __future__ import annotations

import os
import sys
import time

import redis

from devtools.procs import redacted


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    deadline = time.monotonic() + 30
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                sys.exit(f"Redis at {redacted(os.environ['REDIS_URL'])} did not answer within 30 s")
            time.sleep(0.2)
    os.execvp(args[0], args)


if __name__ == "__main__":
    main()
