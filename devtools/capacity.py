"""`python -m devtools.capacity [options]` (`make capacity`): how many processes and hosts each pool
needs for a day's videos and hotel requests at a target p95 wait, and what a month of fixed,
reactive and predictive fleets of them costs at a price per core-hour and per GPU-hour.

Every per-process figure is read from the benchmarks' results (bench/results/*.json), so the answer
follows the last `make bench`; `--help` lists the load, the targets, the host and the prices (the
defaults are examples). The model and its assumptions are docs/CAPACITY.md, whose tables are this
command's output with the defaults (`--write` puts them there; a test keeps them current). It also
checks itself: the 2-replica throughput of bench_serving predicted from its 1-replica figures and
the core count, against the measured one (within CHECK_TOLERANCE).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from brigade.settings import ROOT, describe

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "CAPACITY.md"
KEDA = ROOT / "deploy" / "k8s" / "keda.yaml"
START, END = "<!-- capacity:start -->", "<!-- capacity:end -->"
DAY_S = 86400.0
MONTH_H = 730.0  # 365 x 24 / 12
STEP_S = 900.0  # the day is sized in steps of 15 minutes
QUANTILE = 0.95
CHECK_TOLERANCE = 0.20
RESOLUTIONS = {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080)}
FEATURES = ("people", "faces", "text")  # on top of labels, which every video job computes
#: Pods as deploy/k8s builds them (its CPU requests: nothing measured these): an events pod runs up
#: to EVENTS_MAX (8) processes, which wait on a supplier's answer most of their time, on one CPU; a
#: control pod runs 4 threads (--concurrency=4) on a quarter of one; a GPU pod has 2 CPUs beside its GPU.
EVENTS_PER_POD = 8
EVENTS_CORES_PER_PROCESS = 1 / EVENTS_PER_POD
CONTROL_THREADS = 4
CONTROL_CORES_PER_PROCESS = 0.25
GPU_WORKER_CORES = 2.0
#: Pool -> the Deployment (and ScaledObject) that runs it in deploy/k8s.
DEPLOYMENTS = {"predict": "worker-predict", "segments": "worker-gpu", "control": "worker-control",
               "events": "worker-events"}


def setting(name: str):
    """A setting's default (brigade/settings.py): the model describes a deployment with the defaults."""
    return next(default for n, default, _ in describe() if n == name)


# --- queueing: M/M/c (Erlang C), with the Allen-Cunneen correction for M/G/c ------------------------


def erlang_c(servers: int, load: float) -> float:
    """Probability that an arrival waits, for `servers` servers offered `load` Erlangs (arrival rate
    x mean service time); 1.0 when the servers cannot keep up. Through Erlang B's recursion, which
    stays finite for hundreds of servers."""
    if load <= 0:
        return 0.0
    if servers <= load:
        return 1.0
    b = 1.0
    for k in range(1, servers + 1):
        b = load * b / (k + load * b)
    return b / (1 - (load / servers) * (1 - b))


def wait_quantile(servers: int, rate: float, service_s: float, q: float = QUANTILE, scv: float = 1.0,
                  arrival_scv: float = 1.0) -> float:
    """The q-quantile of the time an arrival waits for a server (seconds; inf when overloaded).
    M/M/c: P(wait > t) = C * exp(-(c/S - rate) t). Other variabilities (squared coefficients of
    variation of the service times, `scv`, and of the times between arrivals, `arrival_scv`; both 1
    in M/M/c) scale the waits by (arrival_scv + scv) / 2 (Allen-Cunneen's M/G/c and G/G/c estimate)."""
    if rate <= 0:
        return 0.0
    if servers <= 0 or servers * 1.0 <= rate * service_s:
        return math.inf
    waiting = erlang_c(servers, rate * service_s)
    if waiting <= 1 - q:
        return 0.0
    return math.log(waiting / (1 - q)) / (servers / service_s - rate) * (arrival_scv + scv) / 2


def servers_for(rate: float, service_s: float, p95_wait_s: float, scv: float = 1.0, minimum: int = 0,
                arrival_scv: float = 1.0) -> int:
    """The fewest servers (at least `minimum`) whose p95 wait is within `p95_wait_s`."""
    if rate <= 0:
        return minimum
    servers = max(minimum, math.floor(rate * service_s) + 1)
    while wait_quantile(servers, rate, service_s, scv=scv, arrival_scv=arrival_scv) > p95_wait_s:
        servers += 1
    return servers


def effective_processes(processes: float, cores: float, cores_per_process: float) -> float:
    """How many processes' worth of work `processes` processes get done on `cores` cores, each
    keeping `cores_per_process` busy when it has them (fewer cores: they share, proportionally
    slower). Its inverse sizes hosts: a pool needs processes x cores_per_process cores."""
    return min(processes, cores / cores_per_process)


# --- the per-process figures, from bench/results ------------------------------------------------------


@dataclass(frozen=True)
class Cost:
    """One second of video: the CPU-seconds it costs, and the seconds it holds one process."""

    cpu: float
    wall: float

    @property
    def cores(self) -> float:
        """Cores the process keeps busy meanwhile (ffmpeg decoding beside the model)."""
        return self.cpu / self.wall

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.cpu + other.cpu, self.wall + other.wall)


@dataclass(frozen=True)
class Figures:
    """What one process of each pool does, and where each number comes from (`sources`)."""

    labels: dict[str, Cost]  # resolution -> a video-second with labels only, on a predict replica
    features: dict[str, Cost]  # feature -> what it adds to a video-second (one shared decode)
    per_job_s: float  # a predict job's own overhead: upload, probe, queue, job record
    shard_efficiency: float  # a core of shard worker against a core of predict replica, same video
    shard_cores: float  # cores one CPU shard worker keeps busy
    plan_s_per_video_s: float  # the sharded plan (index + scene scan) on the control pool
    merge_s: float
    hotel_service_s: float  # a hotel-price task holds an events process this long
    sources: tuple[tuple[str, str, str], ...]  # (figure, value, source)

    def video(self, resolution: str, features: tuple[str, ...]) -> Cost:
        """A video-second on a predict replica at this resolution with these features."""
        cost = self.labels[resolution]
        for name in features:
            cost = cost + self.features[name]
        return cost


def _load(name: str, results: Path) -> dict:
    return json.loads((results / f"{name}.json").read_text())


def in_process_cost(serving: dict, run: dict) -> Cost:
    """A video-second of bench_serving's clips in one of its in-process runs (`run`: the JSON's
    top level, or its `pinned` part): its CPU (cores used x wall) and its wall time."""
    video_s = serving["clips"]["count"] * serving["clips"]["seconds"]
    inproc = run["in_process"]
    return Cost(inproc["cores_used"] * inproc["wall_s"] / video_s, inproc["wall_s"] / video_s)


def job_seconds(length_s: float, cost: Cost, per_job_s: float) -> float:
    """Seconds a video of `length_s` holds a predict replica."""
    return length_s * cost.wall + per_job_s


def read_figures(results: Path = RESULTS) -> Figures:
    """The figures of the committed benchmark runs (docs/CAPACITY.md says why each)."""
    from bench.bench_sharded import SHARD_WORKERS

    serving, features, sharded, events = (_load(n, results) for n in ("serving", "features", "sharded", "events"))
    inproc = serving["in_process"]
    low = in_process_cost(serving, serving)
    jobs, clip_s = features["jobs"], features["clip"]["duration_s"]

    def job(name: str) -> Cost:
        return Cost(jobs[name]["cpu_s"] / clip_s, jobs[name]["wall_s"] / clip_s)

    mid = job("labels")
    extra = {f: Cost(job(f"labels+{f}").cpu - mid.cpu, job(f"labels+{f}").wall - mid.wall) for f in FEATURES}
    # No 1080p run is committed: ffmpeg's share of 720p scaled by the pixels, the model's unchanged
    # (it sees frames resized to its input), run on as many cores as at 720p.
    (w, h), (w0, h0) = RESOLUTIONS["1080p"], RESOLUTIONS["720p"]
    pixels = w * h / (w0 * h0)
    high_cpu = mid.cpu + jobs["labels"]["ffmpeg_cpu_s"] / clip_s * (pixels - 1)
    high = Cost(high_cpu, high_cpu / mid.cores)
    timings = sharded["sharded_timings"]
    efficiency = sharded["pinned"]["single_s"] / timings["segment_compute_s"]
    shard_cores = sharded["machine"]["cpus"] / SHARD_WORKERS
    video_s = sharded["video"]["seconds"]
    cfg = events["config"]
    hotel_s = (cfg["simulated_io_ms"] + events["model_predict_ms_p50"]) / 1000
    sources = (
        ("360p, labels: CPU-s / wall-s per video-s", f"{low.cpu:.4f} / {low.wall:.4f} ({low.cores:.2f} cores)",
         f"serving.json in_process: {serving['clips']['count']} clips of {serving['clips']['seconds']:g} s at 640x360, "
         f"{inproc['cores_used']:.2f} cores x {inproc['wall_s']:.2f} s"),
        ("720p, labels: CPU-s / wall-s per video-s", f"{mid.cpu:.4f} / {mid.wall:.4f} ({mid.cores:.2f} cores)",
         f"features.json jobs.labels: a {clip_s:g} s 1280x720 clip, DECODE_MODE={features['decode_mode']}, median of {features['rounds']}"),
        ("1080p, labels: CPU-s / wall-s per video-s", f"{high.cpu:.4f} / {high.wall:.4f} (estimate)",
         f"none measured: 720p with ffmpeg's CPU x {pixels:g} (the pixels), the model's the same"),
        *((f"+ {f}: CPU-s / wall-s per video-s", f"{extra[f].cpu:.4f} / {extra[f].wall:.4f}",
           f"features.json jobs.labels+{f} - jobs.labels (one decode shared)") for f in FEATURES),
        ("predict job overhead", f"{serving['overhead_ms_per_job']:.1f} ms",
         "serving.json overhead_ms_per_job (upload, probe, queue, job record)"),
        ("shard worker: cores; CPU per video-s against a predict replica", f"{shard_cores:g}; x{1 / efficiency:.3f}",
         f"sharded.json: {SHARD_WORKERS} shard workers on {sharded['machine']['cpus']} cores, {timings['segment_compute_s']:.1f} "
         f"s of segments against the same {video_s:g} s video on one pinned core, {sharded['pinned']['single_s']:.1f} s"),
        ("sharded plan; merge", f"{timings['plan_s'] / video_s * 60:.3f} s per video-minute; {timings['merge_s'] * 1000:.0f} ms",
         f"sharded.json sharded_timings ({video_s:g} s video)"),
        ("hotel request on an events process", f"{hotel_s * 1000:.1f} ms ({1 / hotel_s:.1f} req/s per process)",
         f"events.json: simulated supplier lookup {cfg['simulated_io_ms']:g} ms + model p50 {events['model_predict_ms_p50']:.1f} ms"),
    )
    return Figures(labels={"360p": low, "720p": mid, "1080p": high}, features=extra,
                   per_job_s=serving["overhead_ms_per_job"] / 1000, shard_efficiency=efficiency, shard_cores=shard_cores,
                   plan_s_per_video_s=timings["plan_s"] / video_s, merge_s=timings["merge_s"], hotel_service_s=hotel_s,
                   sources=sources)


# --- the load and the pools -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    videos_per_day: float
    mix: tuple[tuple[float, float], ...]  # (length s, share of the videos), shares summing to 1
    resolution: str = "720p"
    features: tuple[str, ...] = ()
    hotel_requests_per_day: float = 0.0
    video_p95_wait_s: float = 30.0
    hotel_p95_wait_s: float = 0.05
    gpu_video_s_per_s: float | None = None  # a GPU shard worker's rate; None: shard workers on CPUs


@dataclass(frozen=True)
class Pool:
    """One pool at the day's mean arrival rate: what it serves and how a process of it is built."""

    name: str
    rate: float  # arrivals/s (videos, segments, sharded jobs, hotel requests)
    service_s: float  # mean seconds an arrival holds a server
    scv: float  # squared coefficient of variation of the service time
    p95_wait_s: float
    arrival_scv: float = 1.0  # of the times between arrivals: 1 for Poisson arrivals
    servers_per_process: int = 1
    cores_per_process: float = 1.0
    gpus_per_process: int = 0
    min_processes: int = 0
    cooldown_s: float = 0.0


def _moments(weighted: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(total weight, mean, squared coefficient of variation) of (weight, value) pairs."""
    total = sum(w for w, _ in weighted)
    if total <= 0:
        return 0.0, 0.0, 0.0
    mean = sum(w * v for w, v in weighted) / total
    var = sum(w * (v - mean) ** 2 for w, v in weighted) / total
    return total, mean, var / mean**2 if mean else 0.0


def keda_scaling() -> dict[str, tuple[int, float]]:
    """Deployment -> (minReplicaCount, cooldownPeriod) of its ScaledObject in deploy/k8s/keda.yaml."""
    docs = [d for d in yaml.safe_load_all(KEDA.read_text()) if d]
    return {d["spec"]["scaleTargetRef"]["name"]: (d["spec"].get("minReplicaCount", 0), float(d["spec"].get("cooldownPeriod", 300)))
            for d in docs}


def pools(load: Load, fig: Figures) -> list[Pool]:
    """The pools a load keeps busy, at its daily mean rate. Videos up to SHARD_THRESHOLD_S go whole to
    a predict replica; longer ones are planned on the control pool, cut into segments of at most
    SEGMENT_MAX_S that shard workers run, and merged on the control pool."""
    threshold_s, segment_max_s = setting("SHARD_THRESHOLD_S"), setting("SEGMENT_MAX_S")
    scaling = keda_scaling()
    floor = {pool: scaling[name] for pool, name in DEPLOYMENTS.items()}
    per_s = load.videos_per_day / DAY_S
    cost = fig.video(load.resolution, load.features)
    single = [(share, job_seconds(length, cost, fig.per_job_s)) for length, share in load.mix if length <= threshold_s]
    segments, plans, batches = [], [], []
    for length, share in load.mix:
        if length > threshold_s:
            n = math.ceil(length / segment_max_s)
            segments.append((share * n, length / n))
            plans.append((share, length * fig.plan_s_per_video_s + fig.merge_s))
            batches.append((share, n))
    # A job's segments arrive together: a stream of batches of n is as variable as its dispersion
    # E[n^2] / E[n] (a compound Poisson stream; 1 when every batch is one).
    jobs, mean_n, scv_n = _moments(batches)
    dispersion = mean_n * (1 + scv_n) if jobs else 1.0
    if load.gpu_video_s_per_s:
        shard = dict(cores_per_process=GPU_WORKER_CORES, gpus_per_process=1)
        seconds = [(w, length / load.gpu_video_s_per_s) for w, length in segments]
    else:
        shard = dict(cores_per_process=fig.shard_cores)
        per_video_s = cost.cpu / fig.shard_efficiency / fig.shard_cores
        seconds = [(w, length * per_video_s) for w, length in segments]
    out = []
    for name, weighted, extra in (("predict", single, dict(cores_per_process=cost.cores)), ("segments", seconds, shard),
                                  ("control", plans, dict(servers_per_process=CONTROL_THREADS,
                                                          cores_per_process=CONTROL_CORES_PER_PROCESS))):
        share, mean, scv = _moments(weighted)
        out.append(Pool(name, per_s * share, mean, scv, load.video_p95_wait_s, arrival_scv=dispersion if name == "segments" else 1.0,
                        min_processes=floor[name][0], cooldown_s=floor[name][1], **extra))
    out.append(Pool("events", load.hotel_requests_per_day / DAY_S, fig.hotel_service_s, 1.0, load.hotel_p95_wait_s,
                    cores_per_process=EVENTS_CORES_PER_PROCESS, min_processes=floor["events"][0] * EVENTS_PER_POD,
                    cooldown_s=floor["events"][1]))
    return out


@dataclass(frozen=True)
class Size:
    servers: int
    processes: int
    cores: float
    gpus: int
    p95_wait_s: float
    utilization: float


def size(pool: Pool, rate: float) -> Size:
    """The processes `pool` needs at `rate` arrivals/s for its p95 wait (at least its KEDA minimum)."""
    floor = pool.min_processes * pool.servers_per_process
    servers = servers_for(rate, pool.service_s, pool.p95_wait_s, pool.scv, floor, pool.arrival_scv)
    return _size(pool, rate, servers)


def _size(pool: Pool, rate: float, servers: int) -> Size:
    processes = math.ceil(servers / pool.servers_per_process)
    servers = processes * pool.servers_per_process
    busy = rate * pool.service_s
    return Size(servers, processes, processes * pool.cores_per_process, processes * pool.gpus_per_process,
                wait_quantile(servers, rate, pool.service_s, scv=pool.scv, arrival_scv=pool.arrival_scv) if servers else 0.0,
                busy / servers if servers else 0.0)


def hosts(sizes: list[Size], host_cores: int) -> int:
    """Hosts of `host_cores` cores that hold these pools' processes together."""
    return math.ceil(sum(s.cores for s in sizes) / host_cores - 1e-9)


# --- the day: arrival shape and fleets --------------------------------------------------------------------


def profile(shape: str) -> list[float]:
    """The arrival rate over the day, one value per STEP_S (the end of the day included), as a
    multiple of the day's mean: `flat`, or `daily`, the shape bench/bench_predictive.py replays
    (a quiet night, a morning ramp, a lunchtime spike, an evening decline)."""
    steps = int(DAY_S / STEP_S)
    if shape == "flat":
        return [1.0] * (steps + 1)
    if shape != "daily":
        raise ValueError(f"unknown arrival shape {shape!r}: flat or daily")
    from bench.bench_predictive import DAY_S as BENCH_DAY_S
    from bench.bench_predictive import rate_at

    rates = [rate_at(i / steps * BENCH_DAY_S) for i in range(steps + 1)]
    mean = sum((a + b) / 2 for a, b in zip(rates, rates[1:])) / steps  # the mean of the linear profile
    return [r / mean for r in rates]


@dataclass(frozen=True)
class Fleet:
    """A pool's fleet over one day, in (core-hours, GPU-hours): `fixed` sized for the day's peak all
    day; `reactive` sized each step for that step's arrivals; `predictive` the larger of that and
    Brigade's forecast rule (worker.autoscale.forecast_processes) on the arrivals FORECAST_HORIZON_S
    ahead, the forecast taken as right. The elastic fleets hold a level for the pool's cool-down
    after it drops."""

    peak: Size
    fixed: tuple[float, float]
    reactive: tuple[float, float]
    predictive: tuple[float, float]


def fleet(pool: Pool, shape: list[float]) -> Fleet:
    from worker.autoscale import forecast_processes

    utilization, quantile = setting("AUTOSCALE_TARGET_UTILIZATION"), setting("AUTOSCALE_FORECAST_QUANTILE")
    lead = setting("FORECAST_HORIZON_S") / STEP_S  # in steps
    steps = len(shape) - 1

    def rate(x: float) -> float:  # the arrival rate x steps into the day, linear between steps, a day repeating
        x %= steps
        i = int(x)
        return pool.rate * (shape[i] + (shape[i + 1] - shape[i]) * (x - i))

    peak = size(pool, pool.rate * max(shape))
    reactive, predictive = [], []
    for i in range(steps):
        now = size(pool, max(rate(i), rate(i + 1)))  # linear: the step's most at one end
        ahead = forecast_processes(max(rate(i + lead), rate(i + 1 + lead)), pool.service_s, utilization, quantile)
        reactive.append(now)
        predictive.append(_size(pool, max(rate(i), rate(i + 1)), ahead) if ahead > now.servers else now)
    day_h = DAY_S / 3600
    return Fleet(peak, (peak.cores * day_h, peak.gpus * day_h), _hours(reactive, pool.cooldown_s),
                 _hours(predictive, pool.cooldown_s))


def _hours(steps: list[Size], cooldown_s: float) -> tuple[float, float]:
    """(core-hours, GPU-hours) of a day of steps, each level held for `cooldown_s` after it drops."""
    cores = gpus = 0.0
    for before, now in zip([steps[-1], *steps], steps):
        cores += now.cores * STEP_S + max(0.0, before.cores - now.cores) * cooldown_s
        gpus += now.gpus * STEP_S + max(0, before.gpus - now.gpus) * cooldown_s
    return cores / 3600, gpus / 3600


def fixed_hosts(peaks: list[Size], host_cores: int, host_gpus: int) -> tuple[float, float]:
    """(core-hours, GPU-hours) a day of a fixed fleet: the whole hosts the pools' peaks fill together;
    GPU pools on hosts of their own, of `host_gpus` GPUs, paid by the GPU and by the core they use."""
    cpu = [p for p in peaks if not p.gpus]
    gpus = sum(p.gpus for p in peaks)
    day_h = DAY_S / 3600
    return ((hosts(cpu, host_cores) * host_cores + sum(p.cores for p in peaks if p.gpus)) * day_h,
            math.ceil(gpus / host_gpus) * host_gpus * day_h)


def monthly(core_h: float, gpu_h: float, core_price: float, gpu_price: float) -> float:
    """A month's price of a day's core-hours and GPU-hours."""
    return (core_h * core_price + gpu_h * gpu_price) * MONTH_H / 24


# --- how many videos a day a number of hosts serves ---------------------------------------------------------


def videos_per_day(host_count: int, load: Load, fig: Figures, shape: list[float], host_cores: int) -> int:
    """The most videos a day (this mix) that `host_count` hosts serve at the p95 target, every video
    pool sized for the day's peak on them together (hotel requests left out)."""
    def fits(n: float) -> bool:
        sized = [size(p, p.rate * max(shape)) for p in pools(replace(load, videos_per_day=n, hotel_requests_per_day=0), fig)
                 if p.name != "events"]
        return hosts(sized, host_cores) <= host_count

    if not fits(1):
        return 0
    low, high = 1, 2
    while fits(high):
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if fits(mid) else (low, mid)
    return low


# --- the check: bench_serving's replica scaling predicted from its 1-replica figures ------------------------


@dataclass(frozen=True)
class Check:
    run: str
    replicas: int
    cores: int
    predicted: float  # video-s per s
    measured: float
    alone: float  # what the replicas would do if each had the cores it keeps busy

    @property
    def error(self) -> float:
        return self.predicted / self.measured - 1

    @property
    def ok(self) -> bool:
        return abs(self.error) <= CHECK_TOLERANCE


def serving_checks(results: Path = RESULTS) -> list[Check]:
    """The served throughput of 1 and 2 replicas predicted from the in-process run (CPU and wall per
    video-second: what read_figures takes as the 360p figure), the per-job overhead and the machine's
    cores, against what bench_serving measured; unpinned and with a core per replica."""
    serving = _load("serving", results)
    clip_s = serving["clips"]["seconds"]
    cores = serving["machine"]["cpus"]
    checks = []
    for run, data in (("unpinned", serving), ("pinned", serving["pinned"])):
        cost = in_process_cost(serving, data)
        per_replica = clip_s / job_seconds(clip_s, cost, serving["overhead_ms_per_job"] / 1000)
        for n, measured in sorted(data["served"].items(), key=lambda kv: int(kv[0])):
            predicted = per_replica * effective_processes(int(n), cores, cost.cores)
            checks.append(Check(run, int(n), cores, predicted, measured["video_s_per_s"], per_replica * int(n)))
    return checks


# --- the report ---------------------------------------------------------------------------------------------


def _length(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)


def parse_mix(text: str) -> tuple[tuple[float, float], ...]:
    """`30s:0.5,2m:0.3,10m:0.2` -> ((30, 0.5), (120, 0.3), (600, 0.2)); shares are normalised."""
    pairs = [(_length(length.strip()), float(share)) for length, share in (item.split(":") for item in text.split(","))]
    total = sum(share for _, share in pairs)
    if total <= 0 or any(length <= 0 or share < 0 for length, share in pairs):
        raise ValueError(f"bad length mix {text!r}: length:share,... with positive lengths and shares")
    return tuple((length, share / total) for length, share in pairs)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _time(seconds: float) -> str:
    if math.isinf(seconds):
        return "inf"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def _money(value: float) -> str:
    return f"{value:,.0f}"


def report(args: argparse.Namespace) -> str:
    """The markdown tables for the options in `args` (see parser())."""
    fig = read_figures(args.results)
    load = Load(args.videos_per_day, parse_mix(args.mix), args.resolution, tuple(args.features), args.hotel_requests_per_day,
                args.video_p95_wait_s, args.hotel_p95_wait_ms / 1000, args.gpu_video_s_per_s)
    shape = profile(args.shape)
    sections = (_load_table(args, load, shape), _figures_table(fig, load), _fleet_tables(args, pools(load, fig), shape),
                _hosts_table(args, load, fig, shape), _check_table(args.results))
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _load_table(args, load: Load, shape: list[float]) -> list[str]:
    mix = ", ".join(f"{_duration(length)} {share:.0%}" for length, share in load.mix)
    return ["#### The load", "", "| input | value |", "|---|---|",
            f"| videos a day | {load.videos_per_day:,.0f} |",
            f"| length mix | {mix} (longer than {_duration(setting('SHARD_THRESHOLD_S'))}: sharded) |",
            f"| resolution, features | {load.resolution}, labels{''.join('+' + f for f in load.features)} |",
            f"| hotel requests a day | {load.hotel_requests_per_day:,.0f} |",
            f"| arrivals over the day | {args.shape} (peak {max(shape):.2f}x the mean) |",
            f"| target p95 wait | videos {_time(load.video_p95_wait_s)}, hotel requests {_time(load.hotel_p95_wait_s)} |",
            f"| host | {args.host_cores} cores; GPU hosts of {args.host_gpus} GPU(s) |",
            f"| prices (examples: set yours) | {args.core_hour:g} per core-hour, {args.gpu_hour:g} per GPU-hour |"]


def _figures_table(fig: Figures, load: Load) -> list[str]:
    lines = ["#### Per-process figures (bench/results)", "", "| figure | value | source |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {source} |" for name, value, source in fig.sources]
    if load.gpu_video_s_per_s:
        lines.append(f"| GPU shard worker | {load.gpu_video_s_per_s:g} video-s per s | --gpu-video-s-per-s (none committed) |")
    return lines


def _fleet_tables(args, pool_list: list[Pool], shape: list[float]) -> list[str]:
    fleets = [(pool, fleet(pool, shape)) for pool in pool_list]
    lines = ["#### Each pool at the day's peak", "",
             "| pool | arrivals/s | mean service | processes (servers) | cores | GPUs | p95 wait | busy |",
             "|---|---|---|---|---|---|---|---|"]
    for pool, f in fleets:
        peak = f.peak
        servers = f" ({peak.servers})" if pool.servers_per_process > 1 else ""
        lines.append(f"| {pool.name} | {pool.rate * max(shape):.3f} | {_time(pool.service_s)} | {peak.processes}{servers} | "
                     f"{peak.cores:.1f} | {peak.gpus} | {_time(peak.p95_wait_s)} | {peak.utilization:.0%} |")
    peaks = [f.peak for _, f in fleets]
    fixed = fixed_hosts(peaks, args.host_cores, args.host_gpus)
    gpu_hosts = f" and {fixed[1] / 24 / args.host_gpus:.0f} GPU host(s)" if fixed[1] else ""
    lines += ["", f"All pools at the peak: {sum(s.cores for s in peaks):.1f} cores, {sum(s.gpus for s in peaks)} GPUs: "
                  f"a fixed fleet of {hosts([p for p in peaks if not p.gpus], args.host_cores)} host(s) of "
                  f"{args.host_cores} cores{gpu_hosts}.", "",
              "#### A month of each fleet", "",
              "| pool | fixed at peak | reactive | predictive + reactive |", "|---|---|---|---|"]

    def price(hours: tuple[float, float]) -> float:
        return monthly(*hours, args.core_hour, args.gpu_hour)

    for pool, f in fleets:
        lines.append(f"| {pool.name} | {_money(price(f.fixed))} | {_money(price(f.reactive))} | {_money(price(f.predictive))} |")
    fix, react, ahead = (price(fixed), *(price(tuple(map(sum, zip(*(getattr(f, arm) for _, f in fleets)))))
                                         for arm in ("reactive", "predictive")))
    lines.append(f"| **all** (fixed: in whole hosts) | **{_money(fix)}** | **{_money(react)}** ({1 - react / fix:.0%} less) | "
                 f"**{_money(ahead)}** ({1 - ahead / fix:.0%} less; {ahead / react:.2f}x reactive) |")
    return lines


def _hosts_table(args, load: Load, fig: Figures, shape: list[float]) -> list[str]:
    ten, flat = replace(load, mix=((600.0, 1.0),)), profile("flat")
    lines = [f"#### Videos a day on N hosts of {args.host_cores} cores ({load.resolution}, at the p95 target)", "",
             f"| hosts | this mix, flat | this mix, {args.shape} | 10-min videos, flat | 10-min videos, {args.shape} |",
             "|---|---|---|---|---|"]
    for n in args.host_counts:
        row = [videos_per_day(n, m, fig, s, args.host_cores) for m in (load, ten) for s in (flat, shape)]
        lines.append(f"| {n} | {' | '.join(f'{v:,}' for v in row)} |")
    return lines


def _check_table(results: Path) -> list[str]:
    lines = [f"#### The check: bench_serving's throughput predicted (within {CHECK_TOLERANCE:.0%})", "",
             "| run | replicas on cores | predicted video-s/s | measured | error | cores ignored |", "|---|---|---|---|---|---|"]
    lines += [f"| {c.run} | {c.replicas} on {c.cores} | {c.predicted:.1f} | {c.measured:.1f} | {c.error:+.1%} "
              f"{'ok' if c.ok else 'OVER'} | {c.alone:.1f} ({c.alone / c.measured - 1:+.0%}) |" for c in serving_checks(results)]
    return lines


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m devtools.capacity", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--videos-per-day", type=float, default=20000, help="videos uploaded a day")
    p.add_argument("--mix", default="30s:0.5,2m:0.3,10m:0.15,30m:0.05", help="video length:share,...")
    p.add_argument("--resolution", choices=sorted(RESOLUTIONS), default="720p", help="of the videos (1080p: estimated)")
    p.add_argument("--features", nargs="*", choices=FEATURES, default=[], help="on top of labels")
    p.add_argument("--hotel-requests-per-day", type=float, default=500000, help="hotel-price requests a day")
    p.add_argument("--shape", choices=("flat", "daily"), default="daily", help="arrivals over the day")
    p.add_argument("--video-p95-wait-s", type=float, default=30.0, help="p95 wait for a process (videos, segments, plans)")
    p.add_argument("--hotel-p95-wait-ms", type=float, default=50.0, help="p95 wait for an events process")
    p.add_argument("--host-cores", type=int, default=8, help="cores per host (an example)")
    p.add_argument("--host-gpus", type=int, default=1, help="GPUs per GPU host (an example)")
    p.add_argument("--core-hour", type=float, default=0.04, help="price of a core-hour (an example)")
    p.add_argument("--gpu-hour", type=float, default=2.50, help="price of a GPU-hour (an example)")
    p.add_argument("--gpu-video-s-per-s", type=float, default=None,
                   help="run segments on GPUs at this rate per GPU worker (no GPU figure is committed)")
    p.add_argument("--host-counts", type=int, nargs="+", default=[1, 2, 3, 5, 10], help="rows of the videos-a-day table")
    p.add_argument("--results", type=Path, default=RESULTS, help="the benchmarks' JSON files")
    p.add_argument("--write", action="store_true", help=f"put the tables into {DOC.relative_to(ROOT)}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    text = report(args)
    if args.write:
        from devtools.readme import replace_between

        replace_between(DOC, START, END, text)
    print(text, end="")
    return 0 if all(c.ok for c in serving_checks(args.results)) else 1


if __name__ == "__main__":
    sys.exit(main())
