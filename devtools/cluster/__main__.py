"""`make cluster` (`python -m devtools.cluster`): Brigade on a cluster of hosts on this machine, each a
network namespace with its own address: 3 Redis hosts (replicated, Sentinel), a load balancer
(HAProxy), API hosts, predict, shard, control and events hosts. Waits until every worker is ready and
HAProxy sees every API host up, prints where everything runs and the URL to use, and stops it all on
Ctrl-C. As root only (it makes namespaces and a bridge); it says so and exits 2 where it cannot.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
from pathlib import Path

from brigade.settings import ROOT
from devtools import apt, run_stack
from devtools.cluster import net
from devtools.cluster.cluster import Cluster
from devtools.cluster.haproxy import ALGORITHMS, Balance
from devtools.cluster.topology import ROLES, SIZES

RUN_DIR = ROOT / "var" / "cluster"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full", help="hosts per role (default: full)")
    for role in ROLES:
        parser.add_argument(f"--{role}", type=int, metavar="N", help=f"{role} hosts (overrides --size)")
    parser.add_argument("--balance", choices=[*ALGORITHMS, "weighted"], default="roundrobin",
                        help="HAProxy's algorithm; weighted: roundrobin with --weights (default 3,2,1)")
    parser.add_argument("--weights", default="", help="a weight per API host, e.g. 3,2,1")
    parser.add_argument("--api-workers", type=int, default=2, help="gunicorn workers per API host")
    parser.add_argument("--root", type=Path, default=RUN_DIR, help=f"run folder: configs, data, logs (default {RUN_DIR})")
    return parser.parse_args(argv)


def banner(cluster: Cluster, keys: dict[str, str]) -> str:
    rows = [("host", "address", "namespace", "runs"), *cluster.table()]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    table = "\n".join("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows)
    key = keys.get("premium")
    header = f" -H 'X-API-Key: {key}'" if key else ""
    url = cluster.lb_url
    clip = run_stack.sample_clip().relative_to(ROOT)
    return f"""
Brigade cluster is up ({cluster.size}; HAProxy {cluster.balance})
{table}
  API (through HAProxy)  {url}      (readiness: {url}/readyz)
  HAProxy stats socket   {cluster.stats_socket()}   (`show stat`)
  Redis primary          {cluster.current_primary()}:6379 (Sentinels :26379, master brigade; passwords: {cluster.root}/hosts/redis*/)
  Logs                   {cluster.root}/logs/<host>/
{run_stack.key_lines(keys)}
Try it:
  curl -F video=@{clip}{header} '{url}/v1/videos'
  curl{header} '{url}/v1/jobs/<job_id>?wait=30'
Ctrl-C stops everything.
"""


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    size = dataclasses.replace(SIZES[args.size], **{r: getattr(args, r) for r in ROLES if getattr(args, r) is not None})
    # SIGTERM and SIGHUP end the run as Ctrl-C does: through the `with`, which stops everything.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: sys.exit(130))
    cluster = Cluster(args.root, size, balance=Balance.parse(args.balance, args.weights), api_workers=args.api_workers)
    try:
        net.preflight()  # before anything is written: not root is said plainly, not as a PermissionError
        keys = run_stack.local_credentials()  # the API keys and webhook secret of var/, as make run uses
        args.root.mkdir(parents=True, exist_ok=True)
        print(f"Starting the cluster in {args.root} (logs in {args.root}/logs/) ...", flush=True)
        with cluster:
            cluster.wait_ready()
            print(banner(cluster, keys), flush=True)
            reported: set[str] = set()
            while True:
                time.sleep(2)
                try:
                    cluster.check_alive()
                except RuntimeError as exc:  # said once; the rest keeps serving
                    if str(exc).splitlines()[0] not in reported:
                        reported.add(str(exc).splitlines()[0])
                        print(f"!! {exc}", file=sys.stderr, flush=True)
    except (net.NetUnavailable, apt.Unavailable) as exc:
        print(f"make cluster: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nstopped; namespaces, bridge and processes removed", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
