"""Standalone GPU benchmark of a video-tagger artifact (torch + OpenCV; no ffmpeg, no Brigade code).

    python bench/gpu_tagger.py --artifact models/store/video-tagger/1.0.0 --video clip.mp4 [--device cuda]
    python bench/gpu_tagger.py --artifact models/store/video-tagger/1.0.0 --device cpu   # smoke check

Reports two numbers side by side:
  * raw: model windows/s on batches already on the device (the ceiling);
  * end to end: windows/s including OpenCV decode, sampling at the artifact's rate, resize and
    host-to-device copy (with --video; without it, random frames stand in for decoded ones).
On CUDA the model runs in bf16 (fp16 where bf16 is unsupported), as the Brigade loader does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch


def load_artifact(folder: Path, device: torch.device):
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest:
            raise SystemExit(f"{folder / name}: sha256 does not match the manifest")
    model = torch.jit.load(str(folder / manifest.get("weights", "model.ts")), map_location=device).eval()
    dtype = torch.float32
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return model.to(device, dtype), manifest["input_spec"], dtype


def decoded_windows(video: str | None, spec: dict, seconds: float):
    """uint8 [T, H, W, 3] windows: sampled with OpenCV from `video`, or random when there is none."""
    size, per_window = spec["frame_size"], spec["frames_per_window"]
    if video is None:
        rng = np.random.default_rng(0)
        for _ in range(int(seconds / spec["window_s"])):
            yield rng.integers(0, 256, (per_window, size, size, 3), dtype=np.uint8)
        return
    import cv2  # only needed with --video

    capture = cv2.VideoCapture(video)
    source_fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    step = spec["window_s"] / per_window
    next_sample, index, pending = step / 2, 0, []
    while capture.grab():
        t = index / source_fps
        index += 1
        if t + 0.5 / source_fps < next_sample:
            continue
        ok, frame = capture.retrieve()
        if not ok:
            break
        next_sample += step
        pending.append(cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), (size, size), interpolation=cv2.INTER_AREA))
        if len(pending) == per_window:
            yield np.stack(pending)
            pending = []
    capture.release()


def to_input(batch: np.ndarray, spec: dict, device, dtype) -> torch.Tensor:
    x = torch.from_numpy(batch).to(device, non_blocking=True).permute(0, 1, 4, 2, 3).float() / 255
    mean = torch.tensor(spec["mean"], device=device).view(1, 1, 3, 1, 1)
    std = torch.tensor(spec["std"], device=device).view(1, 1, 3, 1, 1)
    return ((x - mean) / std).to(dtype)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def raw_throughput(model, spec, device, dtype, batch: int, iterations: int) -> float:
    size, per_window = spec["frame_size"], spec["frames_per_window"]
    x = torch.randn(batch, per_window, 3, size, size, device=device).to(dtype)
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        synchronize(device)
        started = time.perf_counter()
        for _ in range(iterations):
            model(x)
        synchronize(device)
    return batch * iterations / (time.perf_counter() - started)


def end_to_end_throughput(model, spec, device, dtype, batch: int, video: str | None, seconds: float) -> tuple[float, int]:
    windows, pending = 0, []
    started = time.perf_counter()
    with torch.inference_mode():
        for window in decoded_windows(video, spec, seconds):
            pending.append(window)
            if len(pending) == batch:
                model(to_input(np.stack(pending), spec, device, dtype)).float().sigmoid().cpu()
                windows, pending = windows + len(pending), []
        if pending:
            model(to_input(np.stack(pending), spec, device, dtype)).float().sigmoid().cpu()
            windows += len(pending)
    synchronize(device)
    return windows / (time.perf_counter() - started), windows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifact", type=Path, default=Path("models/store/video-tagger/1.0.0"))
    parser.add_argument("--video", help="clip decoded with OpenCV; random frames when absent")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=600.0, help="video length simulated without --video")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    model, spec, dtype = load_artifact(args.artifact, device)
    raw = raw_throughput(model, spec, device, dtype, args.batch, args.iterations)
    e2e, windows = end_to_end_throughput(model, spec, device, dtype, args.batch, args.video, args.seconds)
    frames = spec["frames_per_window"]
    report = {
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "dtype": str(dtype).removeprefix("torch."),
        "batch": args.batch,
        "raw_windows_per_s": round(raw, 1),
        "raw_frames_per_s": round(raw * frames, 1),
        "end_to_end_windows_per_s": round(e2e, 1),
        "end_to_end_frames_per_s": round(e2e * frames, 1),
        "end_to_end_video_s_per_s": round(e2e * spec["window_s"], 1),
        "windows": windows,
        "source": args.video or "random frames (no --video)",
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
