"""Train the video tagger on generated videos and publish it to the model store.

`python -m models.build.train_tagger` (what `make model` runs): render labelled clips to H.264, decode
them once, train the window CNN on 2 CPU threads, evaluate end to end on held-out clips from other
seeds, and write `<store>/video-tagger/<version>/` with `models.registry.write_artifact`.
Refuses to publish below `--min-map` unless `--force`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from brigade.settings import get_settings
from models.build.synth import ALL_TAGS, TAG_GROUPS
from models.build.tagger_data import OVERSAMPLE, Windows, build_windows, decode_clips
from models.build.tagger_eval import evaluate, heldout_clips
from models.build.tagger_net import WindowTagger
from models.registry import write_artifact
from models.tagger.artifact import DEFAULT_THRESHOLD, Tagger, normalizer, to_model_input

NAME = "synth-tagger"
INPUT_SPEC = {
    "frame_size": 128,
    "frames_per_window": 2,
    "window_s": 1.0,
    "fps": 1.0,  # windows per second; frames are decoded at frames_per_window / window_s
    "layout": "B,T,C,H,W",
    "color": "rgb",
    "mean": [0.5, 0.5, 0.5],
    "std": [0.25, 0.25, 0.25],
    "resize": "squash to frame_size x frame_size (ffmpeg scale, flags=area)",
    "output": "logits",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m models.build.train_tagger", description=__doc__)
    parser.add_argument("--store", default=get_settings().MODEL_STORE)
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--seed", type=int, default=1000, help="first training clip seed")
    parser.add_argument("--clips", type=int, default=64, help="training clips")
    parser.add_argument("--clip-s", type=float, default=30.0)
    parser.add_argument("--eval-seed", type=int, default=900_000, help="first held-out clip seed")
    parser.add_argument("--eval-clips", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-map", type=float, default=0.95)
    parser.add_argument("--force", action="store_true", help="publish even below --min-map")
    return parser.parse_args(argv)


def augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random horizontal flips and brightness/contrast jitter, the same for a window's frames."""
    flip = rng.random(len(batch)) < 0.5
    batch = batch.copy()
    batch[flip] = batch[flip, :, :, ::-1]
    gain = rng.uniform(0.85, 1.15, (len(batch), 1, 1, 1, 1)).astype(np.float32)
    bias = rng.uniform(-12, 12, (len(batch), 1, 1, 1, 1)).astype(np.float32)
    return np.clip(batch * gain + bias, 0, 255).astype(np.uint8)


def train(windows: Windows, args, log) -> WindowTagger:
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = WindowTagger(len(ALL_TAGS))
    steps_per_epoch = math.ceil(len(windows) / args.batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, args.lr, total_steps=args.epochs * steps_per_epoch)
    targets = torch.from_numpy(windows.y)
    offset, scale = normalizer(INPUT_SPEC)
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(windows))
        total, started = 0.0, time.perf_counter()
        for step in range(steps_per_epoch):
            index = order[step * args.batch : (step + 1) * args.batch]
            x = to_model_input(torch.from_numpy(augment(windows.batch(index), rng)), offset, scale)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), targets[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item()
        log(f"epoch {epoch + 1}/{args.epochs}: loss {total / steps_per_epoch:.4f} ({time.perf_counter() - started:.0f}s)")
    return model.eval()


def export(model: WindowTagger, folder: Path) -> dict[str, Path]:
    """TorchScript weights and labels.json, the files of the artifact."""
    size = INPUT_SPEC["frame_size"]
    example = torch.zeros(1, INPUT_SPEC["frames_per_window"], 3, size, size)
    scripted = torch.jit.trace(model, example)
    weights = folder / "model.ts"
    scripted.save(str(weights))
    labels = folder / "labels.json"
    labels.write_text(json.dumps({"labels": ALL_TAGS, "groups": TAG_GROUPS}, indent=2) + "\n")
    return {"model.ts": weights, "labels.json": labels}


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", flush=True)

    decode_fps = OVERSAMPLE * INPUT_SPEC["frames_per_window"] / INPUT_SPEC["window_s"]
    seeds = list(range(args.seed, args.seed + args.clips))
    clips = decode_clips(seeds, clip_s=args.clip_s, size=INPUT_SPEC["frame_size"], decode_fps=decode_fps,
                         workers=args.threads)
    windows = build_windows(clips, ALL_TAGS, frames_per_window=INPUT_SPEC["frames_per_window"],
                            window_s=INPUT_SPEC["window_s"])
    del clips
    log(f"decoded {len(seeds)} clips x {args.clip_s:.0f}s -> {len(windows)} training windows "
        f"({windows.frames.nbytes / 2**20:.0f} MiB of frames)")
    model = train(windows, args, log)
    train_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="tagger-artifact-") as tmp:
        files = export(model, Path(tmp))
        tagger = Tagger(torch.jit.load(str(files["model.ts"])), name=NAME, version=args.version, labels=ALL_TAGS,
                        groups=TAG_GROUPS, input_spec=INPUT_SPEC, threshold=DEFAULT_THRESHOLD,
                        device=torch.device("cpu"), dtype=torch.float32)
        heldout = heldout_clips(tmp, seed=args.eval_seed, clips=args.eval_clips, clip_s=30.0)
        report = evaluate(tagger, heldout)
        log(f"held-out mAP {report['mAP']:.4f} on {report['windows']} windows; F1@0.5 {report['f1_at_0.5']}")
        if report["mAP"] < args.min_map and not args.force:
            log(f"FAILED: held-out mAP {report['mAP']:.4f} < target {args.min_map}; not publishing")
            return 1
        target = write_artifact(
            args.store,
            NAME,
            args.version,
            files,
            kind=NAME,
            metadata={
                "weights": "model.ts",
                "labels": "labels.json",
                "threshold": DEFAULT_THRESHOLD,
                "input_spec": INPUT_SPEC,
                "parameters": sum(p.numel() for p in model.parameters()),
                "training": {
                    "data": "models.build.synth random_scenes clips (scenes 1.5-4 s), 320x240, 384x216 and 640x360 in turn, 10 fps, "
                    "H.264 (libx264 crf 23), decoded by ffmpeg",
                    "seed": args.seed,
                    "clips": args.clips,
                    "clip_s": args.clip_s,
                    "windows": len(windows),
                    "epochs": args.epochs,
                    "threads": args.threads,
                    "seconds": round(train_s, 1),
                },
                "evaluation": {"seed": args.eval_seed, "clips": args.eval_clips, "clip_s": 30.0,
                               "data": "random_scenes clips (scenes 2-6 s), 320x240, 384x216 and 640x360 in turn, tagged "
                                       "end to end with tag_file; windows straddling a cut left out"},
                "metrics": report,
            },
        )
    log(f"held-out mAP {report['mAP']:.4f} (target {args.min_map}): wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
