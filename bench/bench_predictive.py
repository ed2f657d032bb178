"""Predictive scaling benchmark (`python -m bench.bench_predictive`): one compressed day of hotel-price
requests replayed three times against the real events pool (about seven minutes).

The day is DAY_S seconds long (an hour lasts DAY_S / 24 s): a quiet night, a morning ramp, a
morning plateau, a lunchtime spike, an afternoon plateau and an evening decline (`PROFILE`). Its
arrivals are a Poisson process drawn once from a fixed seed and sent open-loop (each request at its
time whatever the answers do), the same arrivals in every arm:

* **fixed at peak**: `--autoscale=PEAK,PEAK` (EVENTS_MIN = EVENTS_MAX = PEAK) all day;
* **reactive**: `--autoscale=PEAK,0`, today's autoscaler (worker.autoscale, broker depth + tasks in
  hand, cool-down COOLDOWN_S);
* **predictive + reactive**: the same with AUTOSCALE_PREDICTIVE=true: processes = forecast rate x
  measured service time / target utilisation, never below the reactive rule's.

The forecaster learns from past seasons, so the season is compressed with the day
(FORECAST_SEASON_S = DAY_S, ARRIVAL_BUCKET_S = BUCKET_S, FORECAST_HORIZON_S = HORIZON_S) and each
arm is given the two previous "days" as arrival history (`brigade.arrivals.record(..., now=past)`),
written just before its measured day: what a deployment accumulates by itself. Each history day is
the same profile with its own variation (the whole day shifted by up to JITTER_BUCKETS buckets, each
bucket's rate scaled by up to +-NOISE, Poisson counts), so the forecast is not the answer replayed.

Each arm starts from the same state: a fresh pool, and every Brigade key in Redis deleted (jobs,
arrivals, autoscaler samples, forecasts). Every task sleeps EVENTS_SIMULATED_IO_MS (IO_MS, the same in
every arm), a supplier lookup, so that the peak needs several processes; the model is preloaded in
the pool's parent, so a cold process costs the fork and its first task's overhead, as in
bench_events. From the job records: latency (created -> finished), and whether the request met a
cold process: the first task of its process (`process.first_task_of_process`), and among those the
requests whose process was started after they arrived (started_at - process_age_s > created_at):
they waited for a process to be started for them. Process-seconds: the autoscaler's samples
integrated over the day.
"""

from __future__ import annotations

import math
import os
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.bench_events import ENV as EVENTS_ENV
from bench.bench_events import KEY, process_seconds, samples_of, stay, warm_api
from bench.report import RESULTS, bench_stack, percentile, write
from brigade import jobs
from devtools import procs
from devtools.localstack import LocalStack, wait_for_job
from worker.queues import EVENTS

DAY_S = 120.0
HOUR_S = DAY_S / 24
BUCKET_S = 2.0
HORIZON_S = 8.0
COOLDOWN_S = 5.0
IO_MS = 200.0
PEAK = 8
SEED = 21
NOISE = 0.15
JITTER_BUCKETS = 2
HISTORY_DAYS = 2
#: The day's arrival rate: (hour, requests/s), linear in between.
PROFILE = ((0, 0.5), (5, 0.5), (8, 12.0), (11, 12.0), (12, 24.0), (13.5, 24.0), (14.5, 10.0), (18, 10.0),
           (22, 0.5), (24, 0.5))
#: The day's phases: (name, kind, from hour, to hour). Ramps and steady periods are compared.
PHASES = (("night", "night", 0, 5), ("morning ramp", "ramp", 5, 8), ("morning", "steady", 8, 11),
          ("lunch rise", "ramp", 11, 12), ("lunch peak", "peak", 12, 13.5), ("lunch fall", "fall", 13.5, 14.5),
          ("afternoon", "steady", 14.5, 18), ("evening decline", "decline", 18, 22), ("late night", "night", 22, 24))
ARMS = (("fixed", "fixed at peak", {"min": PEAK, "predictive": False}),
        ("reactive", "reactive", {"min": 0, "predictive": False}),
        ("predictive", "predictive + reactive", {"min": 0, "predictive": True}))
ENV = {**EVENTS_ENV, "AUTOSCALE_COOLDOWN_S": str(COOLDOWN_S), "EVENTS_SIMULATED_IO_MS": str(IO_MS),
       "FORECAST_SEASON_S": str(DAY_S), "ARRIVAL_BUCKET_S": str(BUCKET_S), "FORECAST_HORIZON_S": str(HORIZON_S)}
JOB_TIMEOUT_S = 120.0
TARGET_COLD_RATIO, TARGET_RAMP_P99, TARGET_COST = 1 / 3, 1.5, 1.15

_local = threading.local()


# --- the trace -------------------------------------------------------------------------------------


def rate_at(t: float, shift_s: float = 0.0) -> float:
    """Requests/s at `t` seconds into the day (the profile moved `shift_s` later)."""
    hour = ((t - shift_s) % DAY_S) / HOUR_S
    for (h0, r0), (h1, r1) in zip(PROFILE, PROFILE[1:]):
        if h0 <= hour <= h1:
            return r0 + (r1 - r0) * (hour - h0) / (h1 - h0)
    return PROFILE[-1][1]


def day_arrivals(rng: random.Random) -> list[float]:
    """The measured day: a Poisson process of rate `rate_at`, drawn by thinning (seconds into the day)."""
    top = max(r for _, r in PROFILE)
    times, t = [], 0.0
    while True:
        t += rng.expovariate(top)
        if t >= DAY_S:
            return times
        if rng.random() < rate_at(t) / top:
            times.append(t)


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's product of uniforms; the means here are small)."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def history_day(rng: random.Random) -> tuple[list[int], int]:
    """A past day's arrivals per bucket, and its shift in buckets: the profile moved by up to
    JITTER_BUCKETS buckets, each bucket's rate scaled by a factor in [1 - NOISE, 1 + NOISE]."""
    shift = rng.randint(-JITTER_BUCKETS, JITTER_BUCKETS)
    buckets = int(round(DAY_S / BUCKET_S))
    counts = [poisson(rng, rate_at((b + 0.5) * BUCKET_S, shift * BUCKET_S) * BUCKET_S * rng.uniform(1 - NOISE, 1 + NOISE))
              for b in range(buckets)]
    return counts, shift


def phase_of(t: float) -> tuple[str, str]:
    hour = (t % DAY_S) / HOUR_S
    return next((name, kind) for name, kind, h0, h1 in PHASES if h0 <= hour < h1 or (h1 == 24 and hour >= h0))


# --- one arm ------------------------------------------------------------------------------------------


def _session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def send(api: str, i: int, at: float) -> dict:
    """POST the i-th request of the day; its job id (latency and process come from the job record)."""
    response = _session().post(f"{api}/v1/hotel-prices", json=stay(i), headers={"X-API-Key": KEY}, timeout=60)
    record = {"i": i, "at": at, "status": response.status_code}
    if response.status_code in (200, 202):
        record["job_id"] = response.json()["job_id"]
        if response.status_code == 202:  # not answered within the sync wait: follow the job to its end
            wait_for_job(api, record["job_id"], JOB_TIMEOUT_S, wait=10, session=_session(), api_key=KEY)
    return record


def replay(api: str, arrivals: list[float], t0: float) -> list[dict]:
    """Send each request at t0 + its arrival time (open loop), each on its own thread."""
    with ThreadPoolExecutor(max_workers=128) as pool:
        futures = []
        for i, at in enumerate(arrivals):
            delay = t0 + at - time.time()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(send, api, i, at))
        return [f.result() for f in futures]


def clear_keys() -> int:
    """Delete every Brigade key (jobs, arrivals, samples, forecasts): the next arm starts afresh."""
    from brigade.redis_client import key, redis_client

    client = redis_client()
    names = list(client.scan_iter(match=key("*"), count=1000))
    for start in range(0, len(names), 500):
        client.delete(*names[start:start + 500])
    return len(names)


def write_history(history: list[list[int]], t0: float) -> None:
    """The past days' arrivals, as brigade.arrivals would have counted them, ending at t0."""
    from brigade import arrivals
    from brigade.settings import get_settings

    if get_settings().ARRIVAL_BUCKET_S != BUCKET_S:  # settings read before the stack's environment was set
        raise RuntimeError(f"this process counts arrivals per {get_settings().ARRIVAL_BUCKET_S:g} s, not {BUCKET_S:g} s")
    start = t0 - len(history) * DAY_S
    for d, counts in enumerate(history):
        for b, n in enumerate(counts):
            if n:
                arrivals.record(EVENTS, n, now=start + d * DAY_S + b * BUCKET_S)


class Watch(threading.Thread):
    """Reads the predictive autoscaler's last forecast (`<prefix>:forecast:events`) every `interval`
    seconds while the day runs; each forecast once."""

    def __init__(self, interval: float = 0.5):
        super().__init__(daemon=True)
        self.interval, self.seen, self.stopped = interval, [], threading.Event()

    def run(self):
        while not self.stopped.wait(self.interval):
            from brigade import arrivals

            try:
                value = arrivals.read_forecasts([EVENTS]).get(EVENTS)
            except Exception:  # a missing point must not stop the run
                continue
            if value is not None and (not self.seen or value["t"] != self.seen[-1]["t"]):
                self.seen.append(value)


def offline_forecast(arrivals: list[float], history: list[list[int]], step_s: float = 0.5) -> list[tuple[float, float]]:
    """(t, rate): what worker/forecast.py says at each step of the day from the same history and the
    day's arrivals so far (times from the day's start): the forecast the arms without it would see."""
    from worker import forecast

    past = [(-(len(history) - d) * DAY_S + b * BUCKET_S, n) for d, counts in enumerate(history) for b, n in enumerate(counts) if n]
    out = []
    for k in range(int(DAY_S / step_s)):
        now = k * step_s
        today = Counter(math.floor(a / BUCKET_S) for a in arrivals if a < now)
        buckets = past + [(i * BUCKET_S, n) for i, n in sorted(today.items())]
        out.append((now, forecast.forecast(buckets, now=now, horizon_s=HORIZON_S, bucket_s=BUCKET_S, season_s=DAY_S,
                                           since=past[0][0]).rate))
    return out


def forecast_error(points: list[tuple[float, float]], arrivals: list[float]) -> float:
    """Mean relative error (worker/forecast.py's) of forecasts (t from the day's start, rate) against
    the day's arrivals over their horizon, for those whose horizon ends within the day."""
    from worker import forecast

    errors = [forecast.relative_error(rate, sum(1 for a in arrivals if t <= a < t + HORIZON_S) / HORIZON_S, HORIZON_S)
              for t, rate in points if 0 <= t <= DAY_S - HORIZON_S]
    return sum(errors) / len(errors) if errors else float("nan")


def live_forecast(arm: dict) -> list[tuple[float, float]]:
    """(t from the day's start, rate) of the forecasts the predictive autoscaler wrote during the day."""
    return [(f["t"] - arm["t0"], f["rate"]) for f in arm["forecasts"] if "rate" in f and 0 <= f["t"] - arm["t0"] <= DAY_S]


def job_records(sent: list[dict]) -> list[dict]:
    """Each request's timings and process from its job record."""
    out = []
    for r in sent:
        record = jobs.get_job(r["job_id"]) if "job_id" in r else None
        row = {"i": r["i"], "at": r["at"], "status": r["status"], "final": (record or {}).get("status")}
        if record and record.get("finished_at") and record.get("started_at"):
            process = record.get("process") or {}
            created, started, finished = record["created_at"], record["started_at"], record["finished_at"]
            age = process.get("process_age_s")
            first = bool(process.get("first_task_of_process"))
            row.update(created=created, started=started, finished=finished, latency_s=finished - created,
                       wait_s=started - created, service_s=finished - started, first_task=first, process_age_s=age,
                       forked_after_arrival=first and age is not None and started - age > created)
        out.append(row)
    return out


def run_arm(stack: LocalStack, api: str, name: str, spec: dict, arrivals: list[float], history: list[list[int]]) -> dict:
    clear_keys()
    host = f"events-predictive@{name}"
    env = {"AUTOSCALE_PREDICTIVE": "true" if spec["predictive"] else "false"}
    proc = procs.spawn(procs.events_worker_command(host, PEAK, spec["min"]), env, stack.logs / f"{host}.log")
    stack.procs.append(proc)
    procs.wait_until(lambda: samples_of(host), 90, what=f"{host}'s first autoscaler sample")
    time.sleep(1.0)  # the pool's first processes (fixed: all PEAK of them) are up
    t0 = math.ceil((time.time() + 1.0) / BUCKET_S) * BUCKET_S  # a bucket boundary, as the history's
    write_history(history, t0)
    watch = Watch()
    watch.start()
    time.sleep(max(0.0, t0 - time.time()))
    sent = replay(api, arrivals, t0)
    day_end = t0 + DAY_S
    time.sleep(max(0.0, day_end - time.time()))
    watch.stopped.set()
    watch.join()
    samples = [s for s in samples_of(host) if t0 - 5 <= s["t"] <= day_end + 5]
    records = job_records(sent)
    procs.stop(proc)
    return {"name": name, "t0": t0, "samples": samples, "forecasts": watch.seen, "records": records,
            "process_seconds": process_seconds(samples, t0, day_end)}


# --- measurements ---------------------------------------------------------------------------------------


def latency(records: list[dict]) -> dict:
    ms = [r["latency_s"] * 1000 for r in records if "latency_s" in r]
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99)}


def share(records: list[dict], field: str) -> float:
    done = [r for r in records if "latency_s" in r]
    return sum(1 for r in done if r[field]) / len(done) if done else float("nan")


def summarize(arm: dict, arrivals: list[float]) -> dict:
    records = arm["records"]
    by_kind = {kind: [r for r in records if phase_of(r["at"])[1] == kind] for kind in ("ramp", "steady")}
    ramp, steady = latency(by_kind["ramp"]), latency(by_kind["steady"])
    first = [r["service_s"] * 1000 for r in records if r.get("first_task")]
    later = [r["service_s"] * 1000 for r in records if "service_s" in r and not r["first_task"]]
    return {
        "requests": len(records), "not_succeeded": sum(1 for r in records if r["final"] != jobs.SUCCEEDED),
        "cold_share": share(records, "forked_after_arrival"), "first_task_share": share(records, "first_task"),
        "cold_requests": sum(1 for r in records if r.get("forked_after_arrival")),
        "first_task_requests": sum(1 for r in records if r.get("first_task")),
        "overall": latency(records), "ramps": ramp, "steady": steady,
        "waited_for_start": latency([r for r in records if r.get("forked_after_arrival")]),
        "ramp_over_steady_p99": ramp["p99_ms"] / steady["p99_ms"],
        "phases": {p: latency([r for r in records if phase_of(r["at"])[0] == p]) for p, *_ in PHASES},
        "service_ms_p50_first_task": percentile(first, 50), "service_ms_p50_later": percentile(later, 50),
        "process_seconds": arm["process_seconds"],
        "max_processes": max((s["processes"] for s in arm["samples"]), default=0),
        "forecast": forecast_summary(arm, arrivals),
    }


def forecast_summary(arm: dict, arrivals: list[float]) -> dict | None:
    """How the autoscaler's own forecasts did over the day (None: it made none)."""
    day = [f for f in arm["forecasts"] if "rate" in f and 0 <= f["t"] - arm["t0"] <= DAY_S]
    if not day:
        return None
    return {"forecasts": len(day), "error": forecast_error(live_forecast(arm), arrivals),
            "seasonal_share": sum(1 for f in day if f.get("method") == "seasonal+trend") / len(day),
            "service_time_s_last": day[-1].get("service_time_s")}


def compact(arm: dict) -> dict:
    """An arm's raw data for the JSON, small: times from the day's start, per request (in arrival
    order) its latency and queue wait in ms, the requests that were a first task or waited for a
    process start, the samples where the pool or the forecast's ask changed, and the forecasts."""
    t0, records = arm["t0"], arm["records"]
    changes, last = [], None
    for s in arm["samples"]:
        point = (s["processes"], s.get("forecast_processes"))
        if point != last:
            changes.append([round(s["t"] - t0, 2), *point])
            last = point
    def ms(r: dict, name: str) -> int | None:
        return round(r[name] * 1000) if name in r else None

    return {"t0": t0, "latency_ms": [ms(r, "latency_s") for r in records], "wait_ms": [ms(r, "wait_s") for r in records],
            "first_task": [r["i"] for r in records if r.get("first_task")],
            "waited_for_start": [r["i"] for r in records if r.get("forked_after_arrival")],
            "samples_processes_forecast": changes,
            "forecasts": [[round(f["t"] - t0, 2), round(f["rate"], 3), f.get("processes")] for f in arm["forecasts"]]}


def mark(ok: bool) -> str:
    return "✓" if ok else "✗"


# --- the plot --------------------------------------------------------------------------------------------


def plot(arms: list[dict], arrivals: list[float], history: list[list[int]], offline: list[tuple[float, float]],
         path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(arms), 1, sharex=True, squeeze=False, figsize=(11, 3.2 * len(arms)))
    axes = axes[:, 0]
    edges = [b * BUCKET_S for b in range(int(round(DAY_S / BUCKET_S)) + 1)]
    for ax, arm in zip(axes, arms):
        t0 = arm["t0"]
        ax.hist(arrivals, bins=edges, weights=[1 / BUCKET_S] * len(arrivals), color="tab:blue", alpha=0.35,
                label="arrivals / s (this day)")
        mids = [e + BUCKET_S / 2 for e in edges[:-1]]
        ax.plot(mids, [n / BUCKET_S for n in history[-1]], color="tab:gray", linewidth=0.8, label="arrivals / s (the day before)")
        live = live_forecast(arm)
        if live:
            ax.plot(*zip(*live), color="tab:orange", label=f"forecast / s (next {HORIZON_S:g} s), the autoscaler's")
        else:
            ax.plot(*zip(*offline), color="tab:orange", linestyle="--", linewidth=1,
                    label=f"forecast / s (next {HORIZON_S:g} s), unused here")
        ax.set_ylabel("requests / s")
        procs_ax = ax.twinx()
        samples = [s for s in arm["samples"] if 0 <= s["t"] - t0 <= DAY_S]
        procs_ax.step([s["t"] - t0 for s in samples], [s["processes"] for s in samples], where="post", color="tab:green",
                      label="processes")
        ahead = [(s["t"] - t0, s["forecast_processes"]) for s in samples if "forecast_processes" in s]
        if ahead:
            procs_ax.step(*zip(*ahead), where="post", color="tab:olive", linestyle=":", label="processes the forecast asks for")
        cold = [r for r in arm["records"] if r.get("forked_after_arrival")]
        procs_ax.scatter([r["at"] for r in cold], [PEAK + 0.4] * len(cold), marker="v", color="tab:red", s=14,
                         label="request that waited for a process start")
        procs_ax.set_ylim(-0.2, PEAK + 1)
        procs_ax.set_ylabel("processes")
        for _, kind, h0, h1 in PHASES:
            if kind == "ramp":
                ax.axvspan(h0 * HOUR_S, h1 * HOUR_S, color="orange", alpha=0.1)
        s = summarize(arm, arrivals)
        ax.set_title(f"{arm['label']}: cold {100 * s['cold_share']:.1f} %, ramp p99 {s['ramps']['p99_ms']:.0f} ms, "
                     f"{s['process_seconds']:.0f} process-s", fontsize=10)
        lines = ax.get_legend_handles_labels()[0] + procs_ax.get_legend_handles_labels()[0]
        ax.legend(lines, [h.get_label() for h in lines], loc="upper left", fontsize=7)
    axes[-1].set_xlabel(f"seconds into the compressed day ({HOUR_S:g} s = 1 hour; ramps shaded)")
    axes[-1].set_xlim(0, DAY_S)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- the run ---------------------------------------------------------------------------------------------


def main(only: list[str] | None = None) -> None:
    load_before = os.getloadavg()[0]
    started = time.time()
    rng = random.Random(SEED)
    arrivals = day_arrivals(rng)
    days = [history_day(rng) for _ in range(HISTORY_DAYS)]
    history = [counts for counts, _ in days]
    arms = []
    with bench_stack("brigade-bench-predictive-", ENV) as stack:
        api = stack.start_api()
        warm_api(api)
        for name, label, spec in ARMS:
            if only and name not in only:
                continue
            print(f"-- {label}", flush=True)
            arms.append({**run_arm(stack, api, name, spec, arrivals, history), "label": label})
    wall = time.time() - started

    summaries = {arm["name"]: summarize(arm, arrivals) for arm in arms}
    RESULTS.mkdir(parents=True, exist_ok=True)
    png = RESULTS / "predictive.png"
    offline = offline_forecast(arrivals, history)
    plot(arms, arrivals, history, offline, png)
    offline_error = forecast_error(offline, arrivals)
    data = {
        "config": {"day_s": DAY_S, "bucket_s": BUCKET_S, "horizon_s": HORIZON_S, "cooldown_s": COOLDOWN_S,
                   "simulated_io_ms": IO_MS, "peak_processes": PEAK, "seed": SEED, "profile": PROFILE, "phases": PHASES,
                   "history_days": HISTORY_DAYS, "history_noise": NOISE, "history_shift_buckets": [s for _, s in days]},
        "arrivals": len(arrivals), "summaries": summaries, "offline_forecast_error": offline_error,
        "offline_forecast": [(round(t, 2), round(rate, 3)) for t, rate in offline], "wall_s": wall, "load_average_at_start": load_before,
        "arms": {arm["name"]: compact(arm) for arm in arms},
    }
    write("predictive", data, rows(summaries, len(arrivals), offline_error), "Predictive scaling: a compressed day, three ways",
          notes=notes(days, wall, load_before, png))


def rows(s: dict, arrivals: int, offline_error: float) -> list[tuple[str, str, str]]:
    arms = [(name, label) for name, label, _ in ARMS if name in s]

    def each(fmt) -> str:
        return " · ".join(fmt(s[name]) for name, _ in arms)

    out = [
        ("arms (values in this order)", " · ".join(label for _, label in arms), f"{arrivals} requests each, the same arrivals"),
        ("requests that waited for a process start", each(lambda a: f"{100 * a['cold_share']:.1f} % ({a['cold_requests']})"),
         "first task of a process started after the request arrived"),
        ("requests that were a process's first task", each(lambda a: f"{100 * a['first_task_share']:.1f} % ({a['first_task_requests']})"),
         "whenever that process was started"),
        ("task time p50: first task / later", each(lambda a: f"{a['service_ms_p50_first_task']:.0f} / {a['service_ms_p50_later']:.0f} ms"),
         f"started -> finished, incl. {IO_MS:g} ms simulated I/O"),
        ("latency p50 of the requests that waited for a process start",
         each(lambda a: f"{a['waited_for_start']['p50_ms']:.0f} ms" if a["waited_for_start"]["n"] else "-"),
         "the cold start as a request sees it"),
        ("latency p50 / p99 overall", each(lambda a: f"{a['overall']['p50_ms']:.0f} / {a['overall']['p99_ms']:.0f} ms"),
         "job record: created -> finished"),
        ("latency p50 / p99 in the ramps", each(lambda a: f"{a['ramps']['p50_ms']:.0f} / {a['ramps']['p99_ms']:.0f} ms"),
         "morning ramp and lunch rise"),
        ("latency p50 / p99 steady", each(lambda a: f"{a['steady']['p50_ms']:.0f} / {a['steady']['p99_ms']:.0f} ms"),
         "morning and afternoon plateaus"),
        ("ramp p99 / steady p99", each(lambda a: f"{a['ramp_over_steady_p99']:.2f}x"), f"target <= {TARGET_RAMP_P99:g}x (predictive)"),
        ("process-seconds over the day", each(lambda a: f"{a['process_seconds']:.0f}"), f"{DAY_S:g} s day, at most {PEAK} processes"),
    ]
    live = s.get("predictive", {}).get("forecast")
    if live:
        out.append(("forecast error (predictive arm)", f"{100 * live['error']:.0f} %",
                    f"mean |forecast - arrivals| / arrivals over the next {HORIZON_S:g} s, {live['forecasts']} forecasts; "
                    f"{100 * live['seasonal_share']:.0f} % seasonal+trend; service time measured "
                    f"{1000 * (live['service_time_s_last'] or float('nan')):.0f} ms"))
    out.append(("forecast error offline", f"{100 * offline_error:.0f} %",
                "worker/forecast.py on the same history and arrivals every 0.5 s"))
    if "reactive" in s and "predictive" in s:
        r, p = s["reactive"], s["predictive"]
        cold = p["cold_share"] / r["cold_share"] if r["cold_share"] else float("nan")
        first = p["first_task_share"] / r["first_task_share"] if r["first_task_share"] else float("nan")
        cost = p["process_seconds"] / r["process_seconds"]
        ramp = p["ramp_over_steady_p99"]
        out += [
            ("predictive vs reactive: requests that waited for a process start", f"{cold:.2f}x {mark(cold <= TARGET_COLD_RATIO)}",
             f"target <= 1/3 ({p['cold_requests']} vs {r['cold_requests']})"),
            ("predictive vs reactive: first tasks of a process", f"{first:.2f}x {mark(first <= TARGET_COLD_RATIO)}",
             "the same target on the stricter count"),
            ("predictive: ramp p99 / steady p99", f"{ramp:.2f}x {mark(ramp <= TARGET_RAMP_P99)}", f"target <= {TARGET_RAMP_P99:g}x"),
            ("predictive vs reactive: process-seconds", f"{cost:.2f}x {mark(cost <= TARGET_COST)}", f"target <= {TARGET_COST:g}x"),
        ]
    out.append(("requests / not succeeded", each(lambda a: f"{a['requests']} / {a['not_succeeded']}"), ""))
    return out


def notes(days: list[tuple[list[int], int]], wall: float, load_before: float, png: Path) -> str:
    shifts = ", ".join(f"{shift:+d}" for _, shift in days)
    return (f"One run ({wall:.0f} s wall, {os.cpu_count()} CPUs shared, load average {load_before:.1f} at the start). "
            f"A day of {DAY_S:g} s ({HOUR_S:g} s an hour): night 0.5 req/s, morning ramp 5-8 h to 12 req/s, lunch spike "
            f"11-12 h to 24 req/s, afternoon 10 req/s, evening decline 18-22 h; Poisson arrivals from seed {SEED}, the same "
            f"in every arm. Every task sleeps {IO_MS:g} ms (EVENTS_SIMULATED_IO_MS, every arm), cool-down {COOLDOWN_S:g} s, "
            f"{PEAK} processes at most. The forecaster's season is the compressed day (FORECAST_SEASON_S={DAY_S:g}, "
            f"ARRIVAL_BUCKET_S={BUCKET_S:g}, FORECAST_HORIZON_S={HORIZON_S:g}); before its day each arm's Redis is given "
            f"the two previous days as arrival history with past timestamps, standing for the history a deployment "
            f"accumulates: the same profile shifted by ({shifts}) buckets, each bucket's rate within +-{100 * NOISE:.0f} %, "
            f"Poisson counts. A request waited for a process start when it was the first task of a process whose start "
            f"(started_at - process_age_s) came after the request's created_at: the cold start the targets are about "
            f"(a process forked ahead serves its first task in about the time of any other, row 'task time'); the "
            f"stricter count of every first task is checked too. Cold requests are a handful per day, so their ratio "
            f"moves between runs. Plot: `bench/results/{png.name}`.")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:] or None)
