"""Event-driven benchmark (`python -m bench.bench_events`): the autoscaled events pool under a
steady load, a 20x burst and idle time, all measured in one run (about two minutes).

* **Autoscaled run**: `celery worker -Q events --autoscale=4,0` (worker.autoscale.QueueDepthAutoscaler,
  cool-down COOLDOWN_S) behind the real API. Cold request (first after scale-from-zero), warm
  requests, STEADY_S of open-loop load at STEADY_RPS, BURST_S at 20x that rate, idle until the
  pool is back at zero, and a second cold request. Client-side latency of every
  POST /v1/hotel-prices (answered 200 within HOTEL_SYNC_WAIT_S), the autoscaler's samples
  (processes, broker depth) for the plot and for process-seconds.
* **Fixed pool at peak size** (`--concurrency=4`, no autoscaling) under the same steady + burst
  load: its latency, and its cost (4 processes for the whole run) against the autoscaled one's.
* **No preload**: the same scale-from-zero cold request with EVENTS_PRELOAD=false, i.e. what a
  child costs when it has to load the model itself.

Each task sleeps EVENTS_SIMULATED_IO_MS (50 ms), standing in for the supplier lookup a real
pricing service does per request: the model alone answers in about a millisecond, and a load of
pure millisecond tasks never builds a backlog that would need more than one process. The table
reports the model's own time separately.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import requests

from bench.report import RESULTS, bench_stack, percentile, write
from brigade import jobs
from devtools import procs
from devtools.localstack import LocalStack, Worker, wait_for_job

MAX_PROCS = 4
COOLDOWN_S = 8.0
IO_MS = 50.0
STEADY_RPS = 2.0
BURST_FACTOR = 20
STEADY_S = 30.0
BURST_S = 10.0
WARM_REQUESTS = 10
KEY = "bench-premium-key"
JOB_TIMEOUT_S = 600.0
ENV = {
    "AUTOSCALE_COOLDOWN_S": str(COOLDOWN_S), "AUTOSCALE_INTERVAL_S": "0.25", "EVENTS_SIMULATED_IO_MS": str(IO_MS),
    "HOTEL_SYNC_WAIT_S": "15", "API_KEYS": f"{KEY}:premium", "RATE_LIMIT_PREMIUM": "1000000/hour;100000/minute",
}
DESTINATIONS = ("paris", "new-york", "tokyo", "barcelona", "cancun", "aspen")

_local = threading.local()


def _session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def stay(i: int) -> dict:
    """The i-th hotel-price request body of a run: destinations, dates and guests vary with i."""
    check_in = date.today() + timedelta(days=7 + i % 300)
    return {"destination": DESTINATIONS[i % len(DESTINATIONS)], "check_in": check_in.isoformat(),
            "check_out": (check_in + timedelta(days=1 + i % 7)).isoformat(), "guests": 1 + i % 4, "budget": 2000}


def request_once(api: str, i: int, phase: str) -> dict:
    body = stay(i)
    sent = time.time()
    t0 = time.perf_counter()
    response = _session().post(f"{api}/v1/hotel-prices", json=body, headers={"X-API-Key": KEY}, timeout=60)
    latency = time.perf_counter() - t0
    record = {"phase": phase, "sent": sent, "status": response.status_code, "latency_s": latency}
    if response.status_code == 202:  # not answered within the sync wait: follow the job to its end
        polled = wait_for_job(api, response.json()["job_id"], JOB_TIMEOUT_S, wait=10, session=_session(), api_key=KEY)
        record.update(latency_s=time.time() - sent, final=polled["status"])
    elif response.status_code == 200:
        body = response.json()
        process = (jobs.get_job(body["job_id"]) or {}).get("process") or {}  # the operator's view, in the job record
        record.update(final=body["status"], predict_s=body["timings"]["predict_s"],
                      first_task_of_process=process.get("first_task_of_process"))
    return record


def open_loop(api: str, rate: float, duration: float, phase: str, offset: int = 0) -> list[dict]:
    """Requests sent at a fixed rate whatever the answers do (an open loop), each on its own thread."""
    count = int(rate * duration)
    with ThreadPoolExecutor(max_workers=128) as pool:
        start = time.perf_counter()
        futures = []
        for i in range(count):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(request_once, api, offset + i, phase))
        return [f.result() for f in futures]


def samples_of(name: str) -> list[dict]:
    from worker.autoscale import read_samples

    return read_samples(name)


def wait_processes(name: str, wanted: int, timeout: float) -> float:
    def _at():
        samples = samples_of(name)
        return samples[-1]["t"] if samples and samples[-1]["processes"] == wanted else None

    return procs.wait_until(_at, timeout, interval=0.1, what=f"{name} at {wanted} processes")


def process_seconds(samples: list[dict], start: float, end: float) -> float:
    """Integral of the pool size over [start, end] (a step function between samples)."""
    total, previous = 0.0, None
    for s in samples:
        if previous is not None:
            lo, hi = max(previous["t"], start), min(s["t"], end)
            if hi > lo:
                total += previous["processes"] * (hi - lo)
        previous = s
    if previous is not None and end > max(previous["t"], start):
        total += previous["processes"] * (end - max(previous["t"], start))
    return total


def latency_stats(records: list[dict]) -> dict:
    ms = [r["latency_s"] * 1000 for r in records]
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99), "max_ms": max(ms) if ms else float("nan")}


def start_pool(stack: LocalStack, name: str, env: dict, fixed: bool = False):
    cmd = (procs.worker_command("events", name, concurrency=MAX_PROCS) if fixed
           else procs.events_worker_command(name, MAX_PROCS, 0))
    proc = procs.spawn(cmd, env, stack.logs / f"{name}.log")
    stack.procs.append(proc)
    return proc


def warm_api(api: str) -> None:
    """Open the API processes' broker and Redis connections first (an echo job no worker takes, a
    refused hotel query), so that the cold request measures the pool's cold start, not theirs."""
    for i in range(8):
        requests.post(f"{api}/v1/echo", json={"payload": i}, headers={"X-API-Key": KEY}, timeout=30)
        requests.post(f"{api}/v1/hotel-prices", json={"destination": "nowhere"}, headers={"X-API-Key": KEY}, timeout=30)


def autoscaled_run(stack: LocalStack, api: str) -> dict:
    name = "events-bench@autoscaled"
    proc = start_pool(stack, name, {})
    procs.wait_until(lambda: samples_of(name), 90, what="the autoscaler's first sample")
    warm_api(api)
    run_start = time.time()
    cold = [request_once(api, 0, "cold")]
    warm = [request_once(api, 1 + i, "warm") for i in range(WARM_REQUESTS)]
    steady_start = time.time()
    steady = open_loop(api, STEADY_RPS, STEADY_S, "steady", offset=100)
    burst_start = time.time()
    burst = open_loop(api, STEADY_RPS * BURST_FACTOR, BURST_S, "burst", offset=1000)
    burst_end = time.time()
    back_to_zero = wait_processes(name, 0, COOLDOWN_S + 30)
    time.sleep(1.0)
    cold.append(request_once(api, 5000, "cold"))
    run_end = time.time()
    samples = [s for s in samples_of(name) if run_start - 1 <= s["t"] <= run_end + 1]
    procs.stop(proc)
    at_max = next((s["t"] for s in samples if s["t"] >= burst_start and s["processes"] == MAX_PROCS), None)
    # "once scaled": the pool at its maximum, nothing waiting in the broker and a process to spare
    caught_up = next((s["t"] for s in samples if at_max and s["t"] >= at_max and s["processes"] == MAX_PROCS
                      and s["depth"] == 0 and s["in_worker"] < MAX_PROCS), None)
    return {"caught_up": caught_up, "cold": cold, "warm": warm, "steady": steady, "burst": burst, "samples": samples,
            "run_start": run_start, "run_end": run_end, "steady_start": steady_start, "burst_start": burst_start,
            "burst_end": burst_end, "at_max": at_max, "back_to_zero": back_to_zero}


def fixed_run(stack: LocalStack, api: str) -> dict:
    name = "events-bench@fixed"
    proc = start_pool(stack, name, {}, fixed=True)
    stack.wait_ready(Worker(name, proc, stack.logs / f"{name}.log"))
    for i in range(2 * MAX_PROCS):  # every process has served once
        request_once(api, 9000 + i, "warm-up")
    steady_start = time.time()
    steady = open_loop(api, STEADY_RPS, STEADY_S, "steady", offset=100)
    burst_start = time.time()
    burst = open_loop(api, STEADY_RPS * BURST_FACTOR, BURST_S, "burst", offset=1000)
    procs.stop(proc)
    return {"steady": steady, "burst": burst, "steady_start": steady_start, "burst_start": burst_start}


def no_preload_cold(stack: LocalStack, api: str) -> dict:
    name = "events-bench@nopreload"
    proc = start_pool(stack, name, {"EVENTS_PRELOAD": "false"})
    procs.wait_until(lambda: samples_of(name), 90, what="the autoscaler's first sample")
    cold = request_once(api, 7000, "cold-no-preload")
    warm = [request_once(api, 7001 + i, "warm-no-preload") for i in range(3)]
    procs.stop(proc)
    return {"cold": cold, "warm": warm}


def plot(auto: dict, fixed: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t0 = auto["steady_start"]
    shift = fixed["steady_start"] - t0  # the fixed pool's run, aligned on its steady phase
    fig, (ax_load, ax_procs, ax_lat) = plt.subplots(3, 1, sharex=True, figsize=(11, 9))
    requests_a = auto["cold"] + auto["warm"] + auto["steady"] + auto["burst"]
    end = max(r["sent"] for r in requests_a) - t0 + 2
    bins = [b for b in range(int(min(r["sent"] for r in requests_a) - t0) - 1, int(auto["run_end"] - t0) + 2)]
    ax_load.hist([r["sent"] - t0 for r in requests_a], bins=bins, color="tab:blue", alpha=0.7)
    ax_load.set_ylabel("requests sent / s")
    ax_load.set_title(f"Events pool: steady {STEADY_RPS:g} req/s, {BURST_FACTOR}x burst, idle "
                      f"(cool-down {COOLDOWN_S:g} s, {IO_MS:g} ms simulated I/O per task)")

    samples = auto["samples"]
    ax_procs.step([s["t"] - t0 for s in samples], [s["processes"] for s in samples], where="post",
                  color="tab:green", label="autoscaled pool: processes")
    ax_procs.axhline(MAX_PROCS, color="tab:red", linestyle="--", label=f"fixed pool at peak ({MAX_PROCS})")
    ax_procs.set_ylabel("processes")
    ax_procs.set_ylim(-0.2, MAX_PROCS + 0.8)
    depth = ax_procs.twinx()
    depth.plot([s["t"] - t0 for s in samples], [s["depth"] for s in samples], color="tab:gray", linewidth=0.8,
               label="broker queue depth")
    depth.set_ylabel("queue depth")
    lines = ax_procs.get_legend_handles_labels()[0] + depth.get_legend_handles_labels()[0]
    ax_procs.legend(lines, [h.get_label() for h in lines], loc="upper left", fontsize=8)

    for records, color, label, offset in ((requests_a, "tab:blue", "autoscaled", 0.0),
                                          (fixed["steady"] + fixed["burst"], "tab:red", "fixed at peak", shift)):
        ax_lat.scatter([r["sent"] - t0 - offset for r in records], [r["latency_s"] * 1000 for r in records],
                       s=6, alpha=0.5, color=color, label=label)
    ax_lat.set_yscale("log")
    ax_lat.set_ylabel("latency (ms)")
    ax_lat.set_xlabel("seconds since the steady phase began")
    ax_lat.legend(loc="upper left", fontsize=8)
    for ax in (ax_load, ax_procs, ax_lat):
        ax.axvspan(auto["burst_start"] - t0, auto["burst_end"] - t0, color="orange", alpha=0.12)
        ax.set_xlim(min(r["sent"] for r in requests_a) - t0 - 1, max(end, auto["run_end"] - t0 + 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    load_before = os.getloadavg()[0]
    started = time.time()
    with bench_stack("brigade-bench-events-", ENV) as stack:
        api = stack.start_api()
        auto = autoscaled_run(stack, api)
        fixed = fixed_run(stack, api)
        nopre = no_preload_cold(stack, api)
    wall = time.time() - started

    everything = auto["cold"] + auto["warm"] + auto["steady"] + auto["burst"] + fixed["steady"] + fixed["burst"]
    failures = [r for r in everything if r.get("final") != "succeeded"]
    steady, burst = latency_stats(auto["steady"]), latency_stats(auto["burst"])
    scaled = [r for r in auto["burst"] if auto["caught_up"] and r["sent"] >= auto["caught_up"]]
    burst_scaled = latency_stats(scaled) if scaled else {"n": 0, "p50_ms": float("nan"), "p99_ms": float("nan")}
    f_steady, f_burst = latency_stats(fixed["steady"]), latency_stats(fixed["burst"])
    to_max = auto["at_max"] - auto["burst_start"] if auto["at_max"] else float("nan")
    duration = auto["run_end"] - auto["run_start"]
    used = process_seconds(auto["samples"], auto["run_start"], auto["run_end"])
    fixed_cost = MAX_PROCS * duration
    warm_ms = [r["latency_s"] * 1000 for r in auto["warm"]]
    cold_ms = [r["latency_s"] * 1000 for r in auto["cold"]]
    predict_ms = [r["predict_s"] * 1000 for r in everything if "predict_s" in r]
    ratio = burst_scaled["p99_ms"] / steady["p99_ms"]
    shrink_s = auto["back_to_zero"] - auto["burst_end"]
    catch_up_s = auto["caught_up"] - auto["burst_start"] if auto["caught_up"] else float("nan")

    png = RESULTS / "events.png"
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(auto, fixed, png)

    data = {
        "config": {"max_processes": MAX_PROCS, "cooldown_s": COOLDOWN_S, "simulated_io_ms": IO_MS, "steady_rps": STEADY_RPS,
                   "burst_rps": STEADY_RPS * BURST_FACTOR, "steady_s": STEADY_S, "burst_s": BURST_S},
        "autoscaled": {"steady": steady, "burst": burst, "burst_once_scaled": burst_scaled,
                       "seconds_to_max": to_max, "seconds_to_caught_up": catch_up_s, "seconds_burst_end_to_zero": shrink_s,
                       "cold_ms": cold_ms, "warm_ms": warm_ms, "process_seconds": used, "run_seconds": duration},
        "fixed_at_peak": {"steady": f_steady, "burst": f_burst, "process_seconds": fixed_cost},
        "no_preload": {"cold_ms": nopre["cold"]["latency_s"] * 1000,
                       "warm_ms": [r["latency_s"] * 1000 for r in nopre["warm"]]},
        "model_predict_ms_p50": percentile(predict_ms, 50),
        "requests": len(everything), "failures": len(failures), "wall_s": wall, "load_average_at_start": load_before,
        "samples": auto["samples"],
        "requests_log": [{k: r[k] for k in ("phase", "sent", "status", "latency_s")} for r in everything],
    }
    rows = [
        ("steady p50 / p99", f"{steady['p50_ms']:.0f} / {steady['p99_ms']:.0f} ms",
         f"{STEADY_RPS:g} req/s, {steady['n']} requests"),
        ("burst p50 / p99 (whole burst)", f"{burst['p50_ms']:.0f} / {burst['p99_ms']:.0f} ms",
         f"{STEADY_RPS * BURST_FACTOR:g} req/s for {BURST_S:g} s, includes scaling up"),
        ("burst p50 / p99 once scaled", f"{burst_scaled['p50_ms']:.0f} / {burst_scaled['p99_ms']:.0f} ms",
         f"{burst_scaled['n']} requests sent after the pool was at max with an empty backlog"),
        ("burst p99 once scaled / steady p99", f"{ratio:.2f}x", "target <= 2x"),
        ("burst start -> max processes", f"{to_max:.2f} s", f"0 -> {MAX_PROCS}, prefetch 1, acks_late"),
        ("burst start -> at max with no backlog", f"{catch_up_s:.2f} s", "the scale-up transient"),
        ("burst end -> back to 0 processes", f"{shrink_s:.1f} s", f"cool-down {COOLDOWN_S:g} s"),
        ("cold request (first after scale-from-zero)", " / ".join(f"{c:.0f} ms" for c in cold_ms),
         "model preloaded in the parent; start and end of the run"),
        ("warm request p50", f"{percentile(warm_ms, 50):.0f} ms", f"{WARM_REQUESTS} sequential"),
        ("cold request without preload", f"{nopre['cold']['latency_s'] * 1000:.0f} ms",
         "EVENTS_PRELOAD=false: the child loads the model"),
        ("process-seconds: autoscaled vs fixed at peak", f"{used:.0f} vs {fixed_cost:.0f}",
         f"{100 * (1 - used / fixed_cost):.0f}% saved over the same {duration:.0f} s run"),
        ("fixed pool at peak: steady p50 / p99", f"{f_steady['p50_ms']:.0f} / {f_steady['p99_ms']:.0f} ms", ""),
        ("fixed pool at peak: burst p50 / p99", f"{f_burst['p50_ms']:.0f} / {f_burst['p99_ms']:.0f} ms", ""),
        ("model forward pass p50", f"{percentile(predict_ms, 50):.2f} ms", f"plus {IO_MS:g} ms simulated I/O per task"),
        ("requests / not succeeded", f"{len(everything)} / {len(failures)}", "none lost"),
    ]
    write("events", data, rows, "Event-driven pattern (autoscaled events pool)",
          notes=f"All rows from one run ({wall:.0f} s wall, {os.cpu_count()} CPUs shared, load average {load_before:.1f} "
                f"at the start). Latency is client-side, "
                f"POST /v1/hotel-prices answered 200. Plot: `bench/results/{png.name}`.")


if __name__ == "__main__":
    main()
