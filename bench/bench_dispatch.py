"""Weighted dispatch on the worker side (`python -m bench.bench_dispatch`, about a minute).

The chapter's weighted round robin sends a bigger server a bigger share. Brigade's workers need no
balancer for it: each pool process takes one message at a time from the shared queue
(`worker_prefetch_multiplier=1`, acks late), so a replica with more processes holds more messages
at once and takes a share in proportion to its processes — least connections with the process
count as the weight. Measured here: two replicas of the events pool with fixed sizes (1 and 3
processes, `--concurrency`, no autoscaling), a backlog of hotel-price jobs sent at once through the
real API, and each job's record naming the process that ran it. Each task sleeps
EVENTS_SIMULATED_IO_MS (a supplier lookup), so the share shows the dispatch, not who won the CPU.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.bench_events import stay
from bench.report import bench_stack, write
from brigade import jobs
from devtools import procs
from devtools.localstack import LocalStack, Worker, wait_for_job

WEIGHTS = {"light": 1, "heavy": 3}  # processes per replica
JOBS = 200
IO_MS = 100.0
KEY = "bench-dispatch-key"
ENV = {"EVENTS_SIMULATED_IO_MS": str(IO_MS), "HOTEL_SYNC_WAIT_S": "0", "API_KEYS": f"{KEY}:premium",
       "RATE_LIMIT_PREMIUM": "1000000/hour;100000/minute"}
TOLERANCE_POINTS = 5.0


def start_replicas(stack: LocalStack) -> dict[str, str]:
    """Each replica of WEIGHTS, ready; {its Celery name: its label}."""
    names = {}
    for label, processes in WEIGHTS.items():
        name = f"{label}@dispatch"
        log = stack.logs / f"{label}.log"
        proc = procs.spawn(procs.worker_command("events", name, concurrency=processes), log_path=log)
        stack.procs.append(proc)
        stack.wait_ready(Worker(name, proc, log))
        names[name] = label
    return names


def submit(api: str, i: int) -> str:
    response = requests.post(f"{api}/v1/hotel-prices", json=stay(i), headers={"X-API-Key": KEY}, timeout=60)
    response.raise_for_status()
    return response.json()["job_id"]


def run() -> dict:
    with bench_stack("brigade-bench-dispatch-", ENV) as stack:
        names = start_replicas(stack)
        api = stack.start_api()
        with ThreadPoolExecutor(8) as pool:
            job_ids = list(pool.map(lambda i: submit(api, i), range(JOBS)))
            finals = list(pool.map(lambda j: wait_for_job(api, j, 300, api_key=KEY)["status"], job_ids))
        ran_on = Counter(names[jobs.get_job(j)["worker"].rsplit(":", 1)[0]] for j in job_ids)
    total = sum(WEIGHTS.values())
    shares = {label: {"jobs": ran_on[label], "share_pct": round(100.0 * ran_on[label] / JOBS, 1),
                      "weight_pct": round(100.0 * WEIGHTS[label] / total, 1)} for label in WEIGHTS}
    return {"jobs": JOBS, "io_ms": IO_MS, "succeeded": finals.count(jobs.SUCCEEDED), "replicas": shares}


def main() -> None:
    result = run()
    rows = [(f"{label}: {WEIGHTS[label]} process(es)", f"{s['share_pct']} % ({s['jobs']} jobs)",
             f"weight {s['weight_pct']} % ± {TOLERANCE_POINTS:.0f} points: "
             + ("met" if abs(s["share_pct"] - s["weight_pct"]) <= TOLERANCE_POINTS else "MISSED"))
            for label, s in result["replicas"].items()]
    rows.append(("jobs succeeded", f"{result['succeeded']} / {result['jobs']}", "all"))
    write("dispatch", result, rows, "Weighted dispatch across worker replicas (`python -m bench.bench_dispatch`)",
          f"{JOBS} hotel-price jobs sent at once through the API to the `events` queue, consumed by two replicas of "
          f"fixed size (`--concurrency` 1 and 3, prefetch 1); each task waits {IO_MS:.0f} ms (a supplier lookup). "
          "Share = jobs whose record names a process of that replica.")


if __name__ == "__main__":
    main()
