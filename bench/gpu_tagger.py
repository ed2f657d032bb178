"""Standalone device benchmark of a video-tagger artifact (torch + numpy, OpenCV only with --video;
no ffmpeg and no Brigade code, so it runs alone on a GPU machine).

    python bench/gpu_tagger.py [--artifact models/store/video-tagger/2.0.0] [--device cuda] [--video clip.mp4]
    python bench/gpu_tagger.py --device cpu --seconds 10     # smoke check

For each batch size (16, 64, 256 on CUDA; 16 on CPU) it reports, side by side:
  * raw: frames/s of the model alone on a normalized batch already on the device (the ceiling);
  * path: frames/s of the same batch size through preprocess -> infer -> postprocess as the server
    runs them: uint8 frames copied to the device, normalized there, the forward pass, the head
    (with a labels.json `class_map`, softmax over the classifier's classes summed into tags, as
    `models.tagger.artifact.Tagger.window_probs` does; else sigmoid), the scores copied back and
    turned into per-window tags (score >= threshold). Without --video the frames come from a pool
    of random frames made beforehand (decode excluded); with --video, OpenCV decodes and samples
    the clip at the artifact's rate and resizes (decode included).
On CUDA the model runs in bf16 (fp16 where bf16 is unsupported), as the Brigade loader does; fp32 on CPU.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

DEFAULT_THRESHOLD = 0.5
RANDOM_POOL = 64  # distinct random frames cycled through when there is no --video


def load_artifact(folder: Path, device: torch.device, freeze: bool = True) -> dict:
    """Model (verified against the manifest's sha256s) and everything needed to run it as the server
    does: in its device and dtype, then frozen (weights inlined, BatchNorm folded), as the loader does."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, digest in manifest["files"].items():
        if hashlib.sha256((folder / name).read_bytes()).hexdigest() != digest:
            raise SystemExit(f"{folder / name}: sha256 does not match the manifest")
    labels_doc = json.loads((folder / manifest.get("labels", "labels.json")).read_text())
    dtype = torch.float32
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    model = torch.jit.load(str(folder / manifest.get("weights", "model.ts")), map_location=device).eval().to(device, dtype)
    if freeze:
        model = torch.jit.freeze(model)
    spec = manifest["input_spec"]
    mean = torch.tensor(spec["mean"], dtype=torch.float32, device=device).view(1, 1, 3, 1, 1)
    std = torch.tensor(spec["std"], dtype=torch.float32, device=device).view(1, 1, 3, 1, 1)
    return {
        "ref": f"{manifest.get('name', folder.parent.name)}@{manifest.get('version', folder.name)}",
        "model": model,
        "frozen": freeze,
        "spec": spec,
        "dtype": dtype,
        "device": device,
        "labels": labels_doc["labels"],
        "class_map": labels_doc.get("class_map"),
        "threshold": float(manifest.get("threshold", labels_doc.get("threshold", DEFAULT_THRESHOLD))),
        "offset": mean * 255,  # (x - offset) * scale, in float32, then the model's dtype
        "scale": 1 / (std * 255),
        "class_matrix": None,
    }


def class_matrix(labels: list[str], class_map: dict, num_classes: int, device) -> torch.Tensor:
    """float [classes, labels]: 1 where a class shows a label (labels.json already lists descendants' classes)."""
    matrix = torch.zeros(num_classes, len(labels), device=device)
    for col, label in enumerate(labels):
        matrix[class_map.get(label, []), col] = 1.0
    return matrix


def head(art: dict, out: torch.Tensor) -> torch.Tensor:
    """Model output -> per-window tag probabilities [B, labels], as the server computes them."""
    out = out.float()
    if art["class_map"] is not None:
        if art["class_matrix"] is None:
            art["class_matrix"] = class_matrix(art["labels"], art["class_map"], out.shape[1], out.device)
        return (torch.softmax(out, dim=1) @ art["class_matrix"]).clamp_(0.0, 1.0)
    if art["spec"].get("output", "logits") == "probabilities":
        return out
    return torch.sigmoid(out)


def preprocess(art: dict, windows: np.ndarray) -> torch.Tensor:
    """uint8 [B, T, H, W, 3] on the host -> normalized [B, T, 3, H, W] in the model's dtype on the device."""
    x = torch.from_numpy(np.ascontiguousarray(windows)).to(art["device"], non_blocking=True)
    return ((x.permute(0, 1, 4, 2, 3).float() - art["offset"]) * art["scale"]).to(art["dtype"])


def postprocess(art: dict, probs: torch.Tensor) -> list[dict[str, float]]:
    """Per-window tags: {label: score} of the labels at or above the threshold."""
    rows = probs.cpu().numpy()
    labels, threshold = art["labels"], art["threshold"]
    return [{labels[i]: round(float(row[i]), 4) for i in np.flatnonzero(row >= threshold)} for row in rows]


def run_path(art: dict, windows: np.ndarray) -> list[dict[str, float]]:
    with torch.inference_mode():
        return postprocess(art, head(art, art["model"](preprocess(art, windows))))


def random_windows(spec: dict, count: int):
    """`count` uint8 [T, H, W, 3] windows cycled from a pool of random frames made up front."""
    size, per_window = spec["frame_size"], spec["frames_per_window"]
    pool = np.random.default_rng(0).integers(0, 256, (min(count, RANDOM_POOL), per_window, size, size, 3), dtype=np.uint8)
    for index in range(count):
        yield pool[index % len(pool)]


def video_windows(video: str, spec: dict, limit_s: float | None = None):
    """uint8 [T, H, W, 3] windows sampled with OpenCV at the artifact's rate (mid-slot frames), resized."""
    import cv2  # only needed with --video

    size, per_window = spec["frame_size"], spec["frames_per_window"]
    capture = cv2.VideoCapture(video)
    if not capture.isOpened():
        raise SystemExit(f"{video}: OpenCV cannot open it")
    source_fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    step = spec["window_s"] / per_window
    next_sample, index, pending = step / 2, 0, []
    try:
        while capture.grab():
            t = index / source_fps
            index += 1
            if limit_s is not None and t >= limit_s:
                break
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
    finally:
        capture.release()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def raw_throughput(art: dict, batch: int, min_time_s: float, max_iterations: int) -> float:
    """Frames/s of the model alone on a normalized batch already on the device, laid out as
    `preprocess` makes it (the permute leaves channels-last strides, which the CPU convolutions run
    ~1.5x faster than a contiguous NCHW tensor: a fresh `torch.randn` would understate the ceiling)."""
    spec, device = art["spec"], art["device"]
    per_window, size = spec["frames_per_window"], spec["frame_size"]
    frames = np.random.default_rng(2).integers(0, 256, (batch, per_window, size, size, 3), dtype=np.uint8)
    with torch.inference_mode():
        x = preprocess(art, frames)
        for _ in range(3):  # TorchScript profiles and optimizes on the first calls of a shape
            art["model"](x)
        synchronize(device)
        iterations, started = 0, time.perf_counter()
        while iterations < max_iterations and (iterations < 3 or time.perf_counter() - started < min_time_s):
            art["model"](x)
            iterations += 1
        synchronize(device)
        elapsed = time.perf_counter() - started
    return batch * per_window * iterations / elapsed


def path_throughput(art: dict, batch: int, make_source, min_time_s: float, max_passes: int) -> dict:
    """Frames/s through preprocess -> infer -> postprocess, `batch` windows a call, over passes of
    `make_source()` (an iterator of windows) until `min_time_s` has gone by or `max_passes` are done."""
    per_window = art["spec"]["frames_per_window"]
    warm = np.random.default_rng(1).integers(0, 256, (batch, per_window, art["spec"]["frame_size"],
                                                      art["spec"]["frame_size"], 3), dtype=np.uint8)
    for _ in range(3):
        run_path(art, warm)
    synchronize(art["device"])
    windows, tagged, passes, first = 0, 0, 0, None
    started = time.perf_counter()
    while passes < max_passes and (passes == 0 or time.perf_counter() - started < min_time_s):
        passes += 1
        pending = []
        for window in make_source():
            pending.append(window)
            if len(pending) == batch:
                out = run_path(art, np.stack(pending))
                first = first if first is not None else out[0]
                tagged += sum(bool(w) for w in out)
                windows, pending = windows + len(pending), []
        if pending:
            out = run_path(art, np.stack(pending))
            first = first if first is not None else out[0]
            tagged += sum(bool(w) for w in out)
            windows += len(pending)
    synchronize(art["device"])
    elapsed = time.perf_counter() - started
    return {"frames_per_s": windows * per_window / elapsed if windows else 0.0, "windows": windows,
            "windows_with_tags": tagged, "first_window_tags": first or {}, "seconds": round(elapsed, 3), "passes": passes}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--artifact", type=Path, default=Path("models/store/video-tagger/2.0.0"))
    parser.add_argument("--video", help="clip decoded with OpenCV; a pool of random frames when absent")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batches", help="comma-separated batch sizes (default: 16,64,256 on CUDA, 16 on CPU)")
    parser.add_argument("--seconds", type=float, default=1024.0,
                        help="video length tagged per batch size (random frames: seconds / window_s windows, rounded "
                             "up to whole batches; with --video: at most this much of the clip)")
    parser.add_argument("--min-time", type=float, default=None, help="seconds of raw timing per batch size (2 on CUDA, 1 on CPU)")
    parser.add_argument("--max-iterations", type=int, default=200)
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--no-freeze", action="store_true", help="run the TorchScript module unfrozen (the server freezes it)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device visible to torch")
    batches = [int(b) for b in (args.batches or ("16,64,256" if device.type == "cuda" else "16")).split(",")]
    min_time = args.min_time if args.min_time is not None else (2.0 if device.type == "cuda" else 1.0)
    art = load_artifact(args.artifact, device, freeze=not args.no_freeze)
    spec = art["spec"]
    rows = []
    for batch in batches:
        raw = raw_throughput(art, batch, min_time, args.max_iterations)
        if args.video:
            path = path_throughput(art, batch, lambda: video_windows(args.video, spec, args.seconds), min_time, 1)
        else:
            count = -(-max(1, int(args.seconds / spec["window_s"])) // batch) * batch  # whole batches, as raw
            path = path_throughput(art, batch, lambda count=count: random_windows(spec, count), min_time, args.max_iterations)
        rows.append({
            "batch": batch,
            "raw_frames_per_s": round(raw, 1),
            "path_frames_per_s": round(path["frames_per_s"], 1),
            "path_over_raw": round(path["frames_per_s"] / raw, 3) if raw else None,
            "path_video_s_per_s": round(path["frames_per_s"] / spec["frames_per_window"] * spec["window_s"], 1),
            "windows": path["windows"],
            "passes": path["passes"],
            "windows_with_tags": path["windows_with_tags"],
            "first_window_tags": path["first_window_tags"],
        })
        print(json.dumps(rows[-1]), flush=True)
    report = {
        "artifact": art["ref"],
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f" ({platform.machine()})"),
        "dtype": str(art["dtype"]).removeprefix("torch."),
        "frozen": art["frozen"],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "frame_size": spec["frame_size"],
        "frames_per_window": spec["frames_per_window"],
        "head": "softmax over classes summed into tags (labels.json class_map)" if art["class_map"] else "sigmoid",
        "threshold": art["threshold"],
        "source": args.video or f"random frames (pool of {RANDOM_POOL}; decode excluded)",
        "batches": rows,
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
