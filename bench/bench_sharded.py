"""Sharded pattern benchmark (`python -m bench.bench_sharded`), all in one run:

* the same long video (10 minutes, 1280x720@24) tagged by one predict task vs sharded over two
  shard workers on this 2-core machine (target >= 1.7x). Latency is the job's own, from the upload
  being accepted to the result (`finished_at - created_at` of the job record): the upload before
  it is the same bytes through the same endpoint on both paths, so it is reported beside it;
* the same with segments of equal length instead of equal decoding cost (SEGMENT_BALANCE=duration),
  to show what balancing by the packet index buys; a plot of when each segment ran;
* split (index + scene scan + plan) and merge time as a share of the sharded latency (target <= 5%);
* a shard worker's peak RSS (VmHWM) after a 1-minute vs a 30-minute video (target: within 10%).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.report import RESULTS, UNLIMITED_ANONYMOUS, bench_stack, write
from devtools.localstack import LocalStack, wait_for_job

LONG_S, SIZE, FPS = 600.0, (1280, 720), 24
RSS_SHORT_S, RSS_LONG_S, RSS_SIZE, RSS_FPS = 60.0, 1800.0, (320, 180), 12
SHARD_WORKERS = 2
JOB_TIMEOUT_S = 1800.0  # the single-task run of the long video is the slowest job


@dataclass
class Run:
    body: dict
    upload_s: float  # the POST, until the API answered 202
    end_to_end_s: float  # POST start to the result seen by the client

    @property
    def latency_s(self) -> float:
        """The job's latency: accepted -> succeeded, from the job record's own clock."""
        return self.body["finished_at"] - self.body["created_at"]

    @property
    def timings(self) -> dict:
        return self.body["result"]["timings"]


def render(path: Path, seed: int, duration: float, size, fps) -> Path:
    from models.build.synth import make_clip, random_scenes

    make_clip(path, seed=seed, scenes=random_scenes(seed, duration, 15.0, 45.0), width=size[0], height=size[1], fps=fps)
    return path


def run_job(api: str, path: Path, mode: str) -> Run:
    started = time.perf_counter()
    with open(path, "rb") as fh:
        accepted = requests.post(f"{api}/v1/videos", data=fh, headers={"Content-Type": "video/mp4"},
                                 params={"mode": mode}, timeout=300)
    upload_s = time.perf_counter() - started
    accepted.raise_for_status()
    body = wait_for_job(api, accepted.json()["job_id"], JOB_TIMEOUT_S)
    assert body["status"] == "succeeded", body
    return Run(body, upload_s, time.perf_counter() - started)


def single_vs_sharded_run(stack: LocalStack, api: str, video: Path, mode: str, pin: bool) -> Run:
    """One job on a fresh pool: a predict replica (single) or two shard workers (sharded); with
    `pin`, each worker owns one core, as with `--cpuset-cpus`. Caches are cleared first."""
    from brigade.result_cache import clear_all

    clear_all()
    if mode == "single":
        workers = [stack.start_worker("predict", cpus={0} if pin else None)]
    else:
        workers = [stack.start_worker("segments", pool="solo", prefix="gpu", cpus={i} if pin else None)
                   for i in range(SHARD_WORKERS)]
    try:
        return run_job(api, video, mode)
    finally:
        for worker in workers:
            stack.stop(worker)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def busy_share(run: Run) -> float:
    """How much of the segment phase the shard workers spent computing (1.0 = no one waited)."""
    return run.timings["segment_compute_s"] / (SHARD_WORKERS * run.timings["segments_wall_s"])


def compute_spread(run: Run) -> str:
    """Fastest and slowest segment of the run, in seconds of compute."""
    seconds = [seg["ran_s"][1] - seg["ran_s"][0] for seg in run.body["result"]["segments"]]
    return f"{min(seconds):.1f}-{max(seconds):.1f} s"


def plot(runs: dict[str, Run], png: Path) -> None:
    """When each segment ran, per worker, for each way of balancing (the planner as a bar before 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), 1, sharex=True, figsize=(11, 2.2 + 1.6 * len(runs)))
    for ax, (label, run) in zip(axes, runs.items(), strict=True):
        segments = run.body["result"]["segments"]
        workers = sorted({seg["worker"] for seg in segments})
        plan_s = run.timings["plan_s"]
        ax.barh(-1, plan_s, left=-plan_s, color="tab:gray")
        for seg in segments:
            row = workers.index(seg["worker"])
            begin, end = seg["ran_s"]
            ax.barh(row, end - begin, left=begin, color=f"C{seg['segment_id'] % 10}", edgecolor="black")
            ax.text(begin + (end - begin) / 2, row, f"{seg['start']:.0f}-{seg['end']:.0f}s", ha="center",
                    va="center", fontsize=7)
        ax.set_yticks([-1, *range(len(workers))], ["planner", *[f"worker {i + 1}" for i in range(len(workers))]])
        ax.set_title(f"{label}: job latency {run.latency_s:.1f} s, workers busy {100 * busy_share(run):.0f}%")
    axes[-1].set_xlabel("seconds after the plan was dispatched")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def main() -> None:
    env = {**UNLIMITED_ANONYMOUS, "MAX_VIDEO_SECONDS": "3600", "MAX_UPLOAD_BYTES": str(4 * 1024**3)}
    with bench_stack("brigade-bench-sharded-", env) as stack:
        root = stack.root
        long_video = render(root / "long.mp4", 41, LONG_S, SIZE, FPS)
        api = stack.start_api()
        control = stack.start_worker("control", pool="threads", prefix="control")
        single = single_vs_sharded_run(stack, api, long_video, "single", pin=False)
        sharded = single_vs_sharded_run(stack, api, long_video, "sharded", pin=False)
        single_pinned = single_vs_sharded_run(stack, api, long_video, "single", pin=True)
        sharded_pinned = single_vs_sharded_run(stack, api, long_video, "sharded", pin=True)
        stack.stop(control)
        control = stack.start_worker("control", pool="threads", prefix="control", env={"SEGMENT_BALANCE": "duration"})
        by_duration = single_vs_sharded_run(stack, api, long_video, "sharded", pin=False)

        rss = {}
        for label, seconds, seed in (("short", RSS_SHORT_S, 51), ("long", RSS_LONG_S, 52)):
            video = render(root / f"rss-{label}.mp4", seed, seconds, RSS_SIZE, RSS_FPS)
            worker = stack.start_worker("segments", pool="solo", prefix="rss")
            run_job(api, video, "sharded")
            rss[label] = peak_rss_mb(worker.proc.pid)
            stack.stop(worker)
    timings = sharded.timings
    plan_timings = sharded.body["plan"]["timings"]
    overhead = timings["plan_s"] + timings["merge_s"]
    speedup = single.latency_s / sharded.latency_s
    same_tags = {t["label"] for t in single.body["result"]["tags"]} == {t["label"] for t in sharded.body["result"]["tags"]}
    png = RESULTS / "sharded.png"
    plot({"segments of equal decoding cost (default)": sharded, "segments of equal length": by_duration}, png)
    data = {
        "video": {"seconds": LONG_S, "size": SIZE, "fps": FPS, "megabytes": long_video.stat().st_size / 1e6},
        "latency_s": {"single": single.latency_s, "sharded": sharded.latency_s, "sharded_equal_length": by_duration.latency_s},
        "speedup": speedup,
        "upload_s": {"single": single.upload_s, "sharded": sharded.upload_s},
        "end_to_end_s": {"single": single.end_to_end_s, "sharded": sharded.end_to_end_s},
        "end_to_end_speedup": single.end_to_end_s / sharded.end_to_end_s,
        "pinned": {"single_s": single_pinned.latency_s, "sharded_s": sharded_pinned.latency_s,
                   "speedup": single_pinned.latency_s / sharded_pinned.latency_s},
        "equal_length": {"latency_s": by_duration.latency_s, "speedup": single.latency_s / by_duration.latency_s,
                         "busy_share": busy_share(by_duration), "timings": by_duration.timings},
        "sharded_timings": timings, "plan_timings": plan_timings, "busy_share": busy_share(sharded),
        "overhead_share": overhead / sharded.latency_s,
        "segments": len(sharded.body["result"]["segments"]), "same_tags": same_tags, "peak_rss_mb": rss,
        "rss_ratio": rss["long"] / rss["short"],
    }
    rows = [
        (f"single task, {LONG_S / 60:.0f}-min {SIZE[0]}x{SIZE[1]} video: job latency", f"{single.latency_s:.1f} s",
         "one predict replica; upload accepted -> result"),
        (f"sharded, {SHARD_WORKERS} shard workers: job latency", f"{sharded.latency_s:.1f} s",
         f"{data['segments']} segments of equal decoding cost"),
        ("**speed-up (single / sharded)**", f"**{speedup:.2f}x**", f">= 1.7x on {SHARD_WORKERS} cores"),
        ("shard workers busy during the segment phase", f"{100 * data['busy_share']:.0f}%",
         f"compute {timings['segment_compute_s']:.1f} s over {SHARD_WORKERS} x {timings['segments_wall_s']:.1f} s"),
        ("segment compute time, fastest-slowest: equal cost / equal length",
         f"{compute_spread(sharded)} / {compute_spread(by_duration)}", "cheap splits of long calm stretches run last"),
        ("segments of equal length instead: latency / speed-up / busy",
         f"{by_duration.latency_s:.1f} s / {data['equal_length']['speedup']:.2f}x / "
         f"{100 * data['equal_length']['busy_share']:.0f}%", "SEGMENT_BALANCE=duration (time order), same run"),
        ("pinned (a core per worker): single / sharded",
         f"{single_pinned.latency_s:.1f} s / {sharded_pinned.latency_s:.1f} s", ""),
        ("pinned: speed-up (single / sharded)", f"{data['pinned']['speedup']:.2f}x", f">= 1.7x on {SHARD_WORKERS} cores"),
        ("split + merge share of sharded latency", f"{100 * data['overhead_share']:.1f}%",
         f"<= 5% (plan {timings['plan_s']:.2f} s: index {plan_timings['index_s']:.2f} s, scene scan "
         f"{plan_timings['scene_scan_s']:.2f} s; merge {timings['merge_s']:.3f} s)"),
        (f"upload (POST of the {data['video']['megabytes']:.0f} MB file, before the job exists)",
         f"{single.upload_s:.1f} s / {sharded.upload_s:.1f} s", "single / sharded run"),
        ("end to end incl. upload: single / sharded", f"{single.end_to_end_s:.1f} s / {sharded.end_to_end_s:.1f} s",
         f"speed-up {data['end_to_end_speedup']:.2f}x"),
        ("same tags single vs sharded", str(same_tags), ""),
        (f"shard worker peak RSS, {RSS_SHORT_S / 60:.0f}-min video", f"{rss['short']:.0f} MB", ""),
        (f"shard worker peak RSS, {RSS_LONG_S / 60:.0f}-min video", f"{rss['long']:.0f} MB", ""),
        ("peak RSS ratio (long / short)", f"{data['rss_ratio']:.3f}", "within 10% (<= 1.10)"),
    ]
    write("sharded", data, rows, "Sharded serving (plan -> chord of segments -> merge)",
          notes="All rows from one run on this machine; RSS is the shard worker process's VmHWM (ffmpeg runs as "
                f"a child). When each segment ran: `bench/results/{png.name}`.")


if __name__ == "__main__":
    main()
