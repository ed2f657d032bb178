"""Tagger throughput on CPU, in process: `python -m bench.bench_tagger`.

For a 720p and a 360p generated clip (25 fps, H.264, scene cuts) it tags the whole file twice,
full decode and keyframe-only (`fast`), and reports video-seconds per wall-second, the decode /
inference split, and what fast mode costs in accuracy (window mAP against the ground truth, and
agreement of the clip-level tags). Writes bench/results/tagger.json and tagger.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from bench.report import RESULTS
from brigade.settings import get_settings
from models.registry import load_model
from models.synth import make_clip, random_scenes
from models.tagger.evaluate import labelled_windows, metrics
from models.tagger.inference import tag_video

CLIPS = {"720p": (1280, 720, 60.0), "360p": (640, 360, 120.0)}
SOURCE_FPS = 25


def run_mode(tagger, path, gt, *, fast: bool) -> dict:
    started = time.perf_counter()
    result = tag_video(tagger, path, fast=fast)
    wall = time.perf_counter() - started
    y, probs, _ = labelled_windows(result, gt, tagger.labels, tagger.window_s)
    return {
        "wall_s": round(wall, 3),
        "video_s_per_wall_s": round(result["duration_s"] / wall, 2),
        "decode_s": result["timings"]["decode_s"],
        "infer_s": result["timings"]["infer_s"],
        "windows": len(result["windows"]),
        "window_mAP": metrics(y, probs, tagger.labels)["mAP"],
        "tags": sorted(t["label"] for t in result["tags"]),
    }


def bench_clip(tagger, name: str, folder: Path, seed: int) -> dict:
    width, height, duration = CLIPS[name]
    path = folder / f"{name}.mp4"
    gt = make_clip(path, seed=seed, scenes=random_scenes(seed, duration, 3.0, 8.0), width=width, height=height,
                   fps=SOURCE_FPS)
    full, fast = run_mode(tagger, path, gt, fast=False), run_mode(tagger, path, gt, fast=True)
    agree = len(set(full["tags"]) & set(fast["tags"])) / max(1, len(set(full["tags"]) | set(fast["tags"])))
    return {
        "clip": {"resolution": f"{width}x{height}", "fps": SOURCE_FPS, "duration_s": gt.duration_s,
                 "scenes": len(gt.scenes), "bytes": path.stat().st_size},
        "full": full,
        "fast": fast,
        "fast_speedup": round(full["wall_s"] / fast["wall_s"], 2),
        "fast_map_cost": round(full["window_mAP"] - fast["window_mAP"], 4),
        "fast_tag_agreement": round(agree, 3),
    }


def markdown(report: dict) -> str:
    lines = [
        "# Video tagger benchmark (CPU, in process)",
        "",
        f"Model `{report['model']}` on {report['device']}, TORCH_THREADS={report['torch_threads']}, "
        f"FFMPEG_THREADS={report['ffmpeg_threads']}, {report['machine']}. Throughput is video-seconds "
        "tagged per wall-second (decode + inference, one process); the clip is tagged at 1 window/s "
        "(2 frames per window, 128x128).",
        "",
        "| clip | mode | video s / wall s | wall s | decode s | infer s | window mAP | fast speed-up | mAP lost | clip-tag agreement |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, row in report["clips"].items():
        for mode in ("full", "fast"):
            r = row[mode]
            extra = (f"{row['fast_speedup']}x | {row['fast_map_cost']:+.4f} | {row['fast_tag_agreement']:.0%}"
                     if mode == "fast" else " | | ")
            lines.append(f"| {name} ({row['clip']['duration_s']:.0f} s @ {row['clip']['fps']} fps) | {mode} | "
                         f"{r['video_s_per_wall_s']} | {r['wall_s']} | {r['decode_s']} | {r['infer_s']} | "
                         f"{r['window_mAP']} | {extra} |")
    lines += ["", "`fast` decodes keyframes only (`-skip_frame nokey`, a keyframe every 2 s and at cuts): "
              "the fps filter repeats each keyframe, so a window only sees motion when its two frames come from "
              "different keyframes and `moving` is partly lost. mAP lost = full - fast window mAP; clip-tag "
              "agreement = |full & fast| / |full | fast| of the clip-level tags.", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_tagger", description=__doc__)
    parser.add_argument("--model", default=get_settings().TAGGER_MODEL)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    tagger = load_model(args.model)
    report = {
        "model": f"{tagger.name}@{tagger.version}",
        "device": tagger.device,
        "torch_threads": torch.get_num_threads(),
        "ffmpeg_threads": get_settings().FFMPEG_THREADS,
        "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}",
        "clips": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-tagger-") as folder:
        warm_up = Path(folder) / "warm-up.mp4"
        make_clip(warm_up, seed=1, duration_s=2.0)
        tag_video(tagger, warm_up)
        for name in CLIPS:
            report["clips"][name] = bench_clip(tagger, name, Path(folder), args.seed)
            print(name, json.dumps(report["clips"][name]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tagger.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "tagger.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
