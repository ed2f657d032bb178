"""Load balancing across API hosts (`make bench-lb`, as root: it runs on the cluster harness,
devtools/cluster/): 3 Redis hosts, HAProxy, 3 API hosts and a predict host, each a network
namespace of this machine. All measured in one run, bounded in count and time:

* share: SHARE_REQUESTS cheap requests (GET /v1/jobs/<unknown id>: a 404 after one Redis read)
  through HAProxy, under roundrobin, leastconn and roundrobin weighted 3:2:1. Each API host's share
  comes from HAProxy's own counters (`show stat` stot), against its weight's share (target ±5 points).
* uneven load: a stream in which every third request is slow (GET /v1/jobs/<id>?wait=2 on a job
  that never ends: no events host runs the queue its hotel-prices message went to) and the others
  fast, from MIX_CLIENTS clients, on API hosts of API_THREADS request threads each. Fast requests'
  p50/p99 and each host's peak of concurrent requests, leastconn against roundrobin: roundrobin
  hands out turns whatever a host is still holding; leastconn sends to the host holding fewest.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import requests

from bench.report import RESULTS, UNLIMITED_ANONYMOUS, percentile, write
from devtools.cluster import Balance, Cluster, Size

SIZE = Size(api=3, predict=1, shard=0, control=0, events=0)
SHARE_REQUESTS = 900
SHARE_CLIENTS = 6
MIX_REQUESTS = 240
MIX_CLIENTS = 8
SLOW_WAIT_S = 2
API_THREADS = 4  # few threads per API host, so that a host holding slow requests is visibly busy
BOUND_S = 120.0  # each run stops sending after this, whatever is left
TARGET_POINTS = 5.0
UNKNOWN_JOB = "0" * 32
ENV = {**UNLIMITED_ANONYMOUS, "API_THREADS": str(API_THREADS), "MAX_HELD_WAITS": "64",
       "TAGGER_MODEL": "synth-tagger", "HOTEL_SYNC_WAIT_S": "0.1"}
SHARE_RUNS = [Balance("roundrobin"), Balance("leastconn"), Balance.parse("weighted", "3,2,1")]
MIX_RUNS = [Balance("roundrobin"), Balance("leastconn")]


def fire(base: str, paths: list[str], clients: int, bound_s: float = BOUND_S) -> list[tuple[str, float, int]]:
    """GET each of `paths` (in order, from `clients` threads with a keep-alive session each) until
    done or `bound_s` passed: (path, latency ms, status) of each."""
    order = iter(enumerate(paths))
    lock = threading.Lock()
    deadline = time.monotonic() + bound_s
    done: list[tuple[str, float, int]] = []

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < deadline:
            with lock:
                item = next(order, None)
            if item is None:
                return
            started = time.perf_counter()
            status = session.get(base + item[1], timeout=30).status_code
            done.append((item[1], (time.perf_counter() - started) * 1000, status))

    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    return done


def counted(cluster: Cluster, run) -> tuple[list, dict[str, dict]]:
    """`run()`'s result and what HAProxy counted for each API host meanwhile (stot, 4xx, peak sessions)."""
    before = cluster.lb_servers()
    result = run()
    after = cluster.lb_servers()
    delta = {name: {"requests": after[name]["stot"] - before[name]["stot"],
                    "answered_4xx": after[name]["hrsp_4xx"] - before[name]["hrsp_4xx"],
                    "answered_5xx": after[name]["hrsp_5xx"] - before[name]["hrsp_5xx"],
                    "peak_concurrent": after[name]["smax"], "weight": after[name]["weight"]} for name in after}
    return result, delta


def share_run(cluster: Cluster, balance: Balance) -> dict:
    cluster.set_balance(balance)
    done, servers = counted(cluster, lambda: fire(cluster.lb_url, [f"/v1/jobs/{UNKNOWN_JOB}"] * SHARE_REQUESTS, SHARE_CLIENTS))
    total = sum(s["requests"] for s in servers.values())
    weights = sum(s["weight"] for s in servers.values())
    for s in servers.values():
        s["share_pct"] = 100 * s["requests"] / total if total else float("nan")
        s["target_pct"] = 100 * s["weight"] / weights
        s["off_points"] = s["share_pct"] - s["target_pct"]
    return {"balance": str(balance), "sent": len(done), "statuses": sorted({status for _, _, status in done}),
            "servers": servers, "worst_off_points": max(abs(s["off_points"]) for s in servers.values())}


def never_ending_job(base: str) -> str:
    """A job that stays queued: a hotel-prices request, on a cluster that has no events host."""
    check_in = date.today() + timedelta(days=30)
    body = {"destination": "paris", "check_in": check_in.isoformat(), "check_out": (check_in + timedelta(days=2)).isoformat(),
            "guests": 2}
    response = requests.post(f"{base}/v1/hotel-prices", json=body, timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def mix_run(cluster: Cluster, balance: Balance, job_id: str) -> dict:
    cluster.set_balance(balance)
    slow, fast = f"/v1/jobs/{job_id}?wait={SLOW_WAIT_S}", f"/v1/jobs/{UNKNOWN_JOB}"
    paths = [slow if i % 3 == 0 else fast for i in range(MIX_REQUESTS)]
    started = time.perf_counter()
    done, servers = counted(cluster, lambda: fire(cluster.lb_url, paths, MIX_CLIENTS))
    wall = time.perf_counter() - started
    fast_ms = [ms for path, ms, _ in done if path == fast]
    slow_ms = [ms for path, ms, _ in done if path == slow]
    return {"balance": str(balance), "sent": len(done), "wall_s": wall, "statuses": sorted({s for _, _, s in done}),
            "fast_p50_ms": percentile(fast_ms, 50), "fast_p99_ms": percentile(fast_ms, 99), "fast_max_ms": max(fast_ms),
            "slow_p50_ms": percentile(slow_ms, 50), "slow_p99_ms": percentile(slow_ms, 99), "servers": servers}


def plot(shares: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(shares[0]["servers"])
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(shares)
    for i, run in enumerate(shares):
        xs = [j + i * width for j in range(len(names))]
        ax.bar(xs, [run["servers"][n]["share_pct"] for n in names], width, label=run["balance"])
        ax.scatter(xs, [run["servers"][n]["target_pct"] for n in names], color="black", marker="_", s=200, zorder=3)
    ax.set_xticks([j + width * (len(shares) - 1) / 2 for j in range(len(names))], names)
    ax.set_ylabel("share of requests (%)")
    ax.set_title("Each API host's share through HAProxy (black: its weight's share)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def rows(shares: list[dict], mixes: list[dict]) -> list[tuple[str, str, str]]:
    out = []
    for run in shares:
        cells = " / ".join(f"{n} {s['share_pct']:.1f}% (w{s['weight']}, {s['off_points']:+.1f})" for n, s in sorted(run["servers"].items()))
        out.append((f"share, {run['balance']} ({run['sent']} requests)", cells,
                    f"each within ±{TARGET_POINTS:g} points of its weight's share"))
    for run in mixes:
        peaks = " / ".join(str(s["peak_concurrent"]) for _, s in sorted(run["servers"].items()))
        out.append((f"uneven load, {run['balance']}: fast requests p50 / p99",
                    f"{run['fast_p50_ms']:.1f} / {run['fast_p99_ms']:.1f} ms",
                    f"slow ones p50 {run['slow_p50_ms']:.0f} ms; peak concurrent per API host {peaks}"))
    return out


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="brigade-bench-lb-"))
    with Cluster(root, SIZE, env=ENV, api_workers=1) as cluster:
        cluster.wait_ready()
        job_id = never_ending_job(cluster.lb_url)
        shares = [share_run(cluster, balance) for balance in SHARE_RUNS]
        mixes = [mix_run(cluster, balance, job_id) for balance in MIX_RUNS]
    shutil.rmtree(root, ignore_errors=True)  # logs and configs; kept when the run failed
    png = RESULTS / "lb.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(shares, png)
    data = {"config": {"api_hosts": SIZE.api, "api_threads": API_THREADS, "share_requests": SHARE_REQUESTS,
                       "share_clients": SHARE_CLIENTS, "mix_requests": MIX_REQUESTS, "mix_clients": MIX_CLIENTS,
                       "slow_wait_s": SLOW_WAIT_S},
            "share": shares, "uneven_load": mixes}
    write("lb", data, rows(shares, mixes), "Load balancing across API hosts (HAProxy, 3 API hosts in network namespaces)",
          notes=f"Shares from HAProxy's `show stat` (requests sent to each server). Uneven load: every third of {MIX_REQUESTS} "
                f"requests from {MIX_CLIENTS} clients holds {SLOW_WAIT_S} s (`?wait=` on a job that never ends), the rest are "
                f"404s; API hosts of 1 gunicorn worker x {API_THREADS} threads. Plot: `bench/results/{png.name}`.")


if __name__ == "__main__":
    main()
