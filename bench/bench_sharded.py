"""Sharded pattern benchmark (`python -m bench.bench_sharded`), all in one run:

* the same long video (5 minutes, 640x360@24) tagged by one predict task vs sharded over two
  shard workers on this 2-core machine: latency ratio (target >= 1.7x);
* split (probe + scene cuts + plan) and merge time as a share of the sharded total (target <= 5%);
* a shard worker's peak RSS (VmHWM) after a 1-minute vs a 30-minute video (target: within 10%).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import requests

from bench.report import write
from brigade.localstack import LocalStack

LONG_S, SIZE, FPS = 600.0, (1280, 720), 24
RSS_SHORT_S, RSS_LONG_S, RSS_SIZE, RSS_FPS = 60.0, 1800.0, (320, 180), 12


def render(path: Path, seed: int, duration: float, size, fps) -> Path:
    from models.synth import make_clip, random_scenes

    make_clip(path, seed=seed, scenes=random_scenes(seed, duration, 15.0, 45.0), width=size[0], height=size[1], fps=fps)
    return path


def run_job(api: str, path: Path, mode: str) -> tuple[dict, float]:
    started = time.perf_counter()
    with open(path, "rb") as fh:
        job_id = requests.post(f"{api}/v1/videos", files={"video": (path.name, fh)}, params={"mode": mode},
                               timeout=120).json()["job_id"]
    while True:
        body = requests.get(f"{api}/v1/jobs/{job_id}", params={"wait": 30}, timeout=60).json()
        if body["status"] in ("succeeded", "failed"):
            break
    assert body["status"] == "succeeded", body
    return body, time.perf_counter() - started


def single_vs_sharded_run(stack: LocalStack, api: str, video: Path, mode: str, pin: bool) -> tuple[dict, float]:
    """One job on a fresh pool: a predict replica (single) or two shard workers (sharded); with
    `pin`, each worker owns one core, as with `--cpuset-cpus`. Caches are cleared first."""
    from brigade.result_cache import clear_all

    clear_all()
    if mode == "single":
        workers = [stack.start_worker("predict", cpus={0} if pin else None)]
    else:
        workers = [stack.start_worker("segments", pool="solo", prefix="gpu", cpus={i} if pin else None) for i in range(2)]
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


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="brigade-bench-sharded-"))
    os.environ.update({"UPLOAD_DIR": str(root / "uploads"), "HEARTBEAT_INTERVAL_S": "1", "HEARTBEAT_TTL_S": "5",
                       "RATE_LIMIT_ANONYMOUS": "1000000/hour;100000/minute",
                       "MAX_VIDEO_SECONDS": "3600", "MAX_UPLOAD_BYTES": str(4 * 1024**3)})
    stack = LocalStack(root)
    try:
        stack.start_redis()
        long_video = render(root / "long.mp4", 41, LONG_S, SIZE, FPS)
        api = stack.start_api()
        stack.start_worker("merge", pool="threads", prefix="control")
        single, single_s = single_vs_sharded_run(stack, api, long_video, "single", pin=False)
        sharded, sharded_s = single_vs_sharded_run(stack, api, long_video, "sharded", pin=False)
        _, single_pinned_s = single_vs_sharded_run(stack, api, long_video, "single", pin=True)
        _, sharded_pinned_s = single_vs_sharded_run(stack, api, long_video, "sharded", pin=True)

        rss = {}
        for label, seconds, seed in (("short", RSS_SHORT_S, 51), ("long", RSS_LONG_S, 52)):
            video = render(root / f"rss-{label}.mp4", seed, seconds, RSS_SIZE, RSS_FPS)
            worker = stack.start_worker("segments", pool="solo", prefix="rss")
            run_job(api, video, "sharded")
            rss[label] = peak_rss_mb(worker.proc.pid)
            stack.stop(worker)
    finally:
        stack.stop_all()
    timings = sharded["result"]["timings"]
    overhead = timings["plan_s"] + timings["merge_s"]
    speedup = single_s / sharded_s
    speedup_pinned = single_pinned_s / sharded_pinned_s
    same_tags = {t["label"] for t in single["result"]["tags"]} == {t["label"] for t in sharded["result"]["tags"]}
    data = {"video": {"seconds": LONG_S, "size": SIZE, "fps": FPS}, "single_s": single_s, "sharded_s": sharded_s,
            "speedup": speedup, "pinned": {"single_s": single_pinned_s, "sharded_s": sharded_pinned_s,
                                             "speedup": speedup_pinned}, "sharded_timings": timings, "overhead_share": overhead / sharded_s,
            "segments": len(sharded["result"]["segments"]), "same_tags": same_tags, "peak_rss_mb": rss,
            "rss_ratio": rss["long"] / rss["short"]}
    rows = [
        (f"single task, {LONG_S / 60:.0f}-min {SIZE[0]}x{SIZE[1]} video", f"{single_s:.1f} s", "one predict replica"),
        ("sharded, 2 shard workers", f"{sharded_s:.1f} s", f"{data['segments']} segments"),
        ("speed-up (single / sharded)", f"{speedup:.2f}x", ">= 1.7x on 2 cores"),
        ("pinned (a core per worker): single / sharded", f"{single_pinned_s:.1f} s / {sharded_pinned_s:.1f} s", ""),
        ("pinned: speed-up (single / sharded)", f"{speedup_pinned:.2f}x", ">= 1.7x on 2 cores"),
        ("split + merge share of sharded total", f"{100 * data['overhead_share']:.1f}%",
         f"<= 5% (plan {timings['plan_s']:.2f}s, merge {timings['merge_s']:.3f}s)"),
        ("same tags single vs sharded", str(same_tags), ""),
        (f"shard worker peak RSS, {RSS_SHORT_S / 60:.0f}-min video", f"{rss['short']:.0f} MB", ""),
        (f"shard worker peak RSS, {RSS_LONG_S / 60:.0f}-min video", f"{rss['long']:.0f} MB", ""),
        ("peak RSS ratio (long / short)", f"{data['rss_ratio']:.3f}", "within 10% (<= 1.10)"),
    ]
    write("sharded", data, rows, "Sharded serving (plan -> chord of segments -> merge)",
          notes="All rows from one run on this machine; RSS is the shard worker process's VmHWM (ffmpeg runs as a child).")


if __name__ == "__main__":
    main()
