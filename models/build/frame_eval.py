"""Measured quality of the frame models (people, faces, text) on `models.build.eval_media`'s clips, and the
command that writes it into each model's manifest.

Metrics, each over the frames sampled from a clip:

* people and faces: a found box and a true box match when their IoU is at least `IOU_MATCH` (0.3,
  loose on purpose: the true boxes are drawn by eye and detectors frame a body or a face each in
  their own way), one to one, best pairs first. Recall = matched / true boxes, precision = matched /
  found boxes; `exact_count` is the share of frames whose number of boxes is the true number.
* text: each card's character error rate, CER = Levenshtein(read, truth) / len(truth) (whitespace
  runs count as one space; `cer_nocase` ignores case), of the best read in the card's time range:
  any single read, or the reads lying on the card's box joined in reading order (a reader may split
  a line into words). No read at all is CER 1. On shots without text, every read is false text.

`evaluate` decodes each clip itself at the model's `FrameSpec` (the longer side at most `max_side`,
aspect kept, never enlarged; the frames a job samples: the middle of each second, and for a model
that wants fewer, every k-th of them) and calls `service.handle`.

    python -m models.build.frame_eval [--write] [--store DIR] [--model NAME ...]

evaluates each installed frame model and prints a table; `--write` puts the figures into the
manifest's `quality` key (the manifest lists no hash of itself, so the artifact stays valid).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from brigade.features import FRAME_MODELS
from media.ffmpeg_bin import ffmpeg_binary
from models.analysis.summary import edit_distance
from models.build import eval_media

IOU_MATCH = 0.3
READ_CER = 0.1  # a frame "reads" a card when its best read is at most this far off
OVERLAP = 0.5  # a read lies on a card when at least this share of its box is inside the card's box
MODELS = tuple(FRAME_MODELS.values())  # the store names, from the frame models' rows (brigade.features)
_CHUNK = 16  # frames handed to the service per call


# --- box matching ----------------------------------------------------------------------------------------


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes; 0 for disjoint or empty boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def inside(a: Sequence[float], b: Sequence[float]) -> float:
    """The share of box a's area that lies in box b."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    area = (a[2] - a[0]) * (a[3] - a[1])
    return w * h / area if w > 0 and h > 0 and area > 0 else 0.0


def match(found: Sequence[Sequence[float]], truth: Sequence[Sequence[float]], threshold: float = IOU_MATCH
          ) -> list[tuple[int, int, float]]:
    """One-to-one pairs (found index, true index, IoU) with IoU >= threshold, the best pairs first."""
    pairs = sorted(((iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)), reverse=True)
    used_f, used_t, out = set(), set(), []
    for value, i, j in pairs:
        if value < threshold or value <= 0:
            break
        if i not in used_f and j not in used_t:
            used_f.add(i)
            used_t.add(j)
            out.append((i, j, value))
    return out


class Tally:
    """Matched, missed and false boxes, summed over frames."""

    def __init__(self) -> None:
        self.tp = self.fp = self.fn = self.frames = self.exact = 0
        self.ious: list[float] = []

    def add(self, found: Sequence[Sequence[float]], truth: Sequence[Sequence[float]], threshold: float = IOU_MATCH) -> None:
        pairs = match(found, truth, threshold)
        self.tp += len(pairs)
        self.fp += len(found) - len(pairs)
        self.fn += len(truth) - len(pairs)
        self.frames += 1
        self.exact += len(found) == len(truth)
        self.ious += [v for _, _, v in pairs]

    def merge(self, other: Tally) -> None:
        for field in ("tp", "fp", "fn", "frames", "exact"):
            setattr(self, field, getattr(self, field) + getattr(other, field))
        self.ious += other.ious

    def as_dict(self) -> dict:
        """Recall and precision (None where there is nothing to divide by: no true box, no box found)."""
        return {"frames": self.frames, "true": self.tp + self.fn, "found": self.tp + self.fp, "matched": self.tp,
                "recall": _ratio(self.tp, self.tp + self.fn), "precision": _ratio(self.tp, self.tp + self.fp),
                "exact_count": _ratio(self.exact, self.frames),
                "mean_iou": round(float(np.mean(self.ious)), 4) if self.ious else None}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


# --- text --------------------------------------------------------------------------------------------------


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def cer(read: str, truth: str, *, nocase: bool = False) -> float:
    """Character error rate of `read` against `truth`, whitespace runs as one space. An empty truth
    is read right only by an empty read (0.0), any read of it is wrong (1.0)."""
    read, truth = normalize(read), normalize(truth)
    if nocase:
        read, truth = read.casefold(), truth.casefold()
    if not truth:
        return 0.0 if not read else 1.0
    return edit_distance(read, truth) / len(truth)


def candidates(reads: Sequence[dict], box: Sequence[float]) -> list[str]:
    """What a frame may have read a card as: each read, and the reads lying on the card's box
    joined in reading order (top to bottom by line, then left to right)."""
    out = [r.get("text", "") for r in reads]
    on = [r for r in reads if inside(r["box"], box) >= OVERLAP]
    if len(on) > 1:
        line = max(1e-6, min(r["box"][3] - r["box"][1] for r in on) / 2)
        on.sort(key=lambda r: (round(r["box"][1] / line), r["box"][0]))
        out.append(" ".join(r.get("text", "") for r in on))
    return out


def best_read(frames_reads: Iterable[tuple[Sequence[dict], Sequence[float]]], truth: str, *, nocase: bool = False
              ) -> tuple[str, float, int]:
    """The best read of `truth` over frames, given each frame's reads and the card's box in it:
    (read, its CER, frames whose best read has CER <= READ_CER). No read: ("", 1.0, 0)."""
    best, best_cer, frames_read = "", cer("", truth), 0
    for reads, box in frames_reads:
        scored = [(cer(c, truth, nocase=nocase), c) for c in candidates(reads, box)]
        if not scored:
            continue
        value, text = min(scored)
        frames_read += value <= READ_CER
        if value < best_cer:
            best, best_cer = text, value
    return best, round(best_cer, 4), frames_read


# --- decoding ----------------------------------------------------------------------------------------------


def frame_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The frame's size with its longer side at most `max_side`, aspect kept, never enlarged."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def sample_frames(truth: dict, fps: float, grid_fps: float = 1.0) -> list[int]:
    """Clip frame indices a job samples at `fps`: as `media.taps` does, the middle of each interval
    of the tagger's grid (`grid_fps`, one a second), every `grid_fps / fps`-th of them by absolute
    index (text at 0.5/s: the even seconds)."""
    if fps <= 0:
        raise ValueError("fps must be positive")
    grid = max(grid_fps, fps)
    every = max(1, round(grid / fps))
    rate, total = truth["fps"], truth["frames"]
    picked, k = [], 0
    while (index := int((k + 0.5) * rate / grid)) < total:
        if k % every == 0:
            picked.append(index)
        k += 1
    return picked


def decode(path: str | Path, indices: Sequence[int], width: int, height: int) -> list[np.ndarray]:
    """The frames at `indices` (0-based, in decode order) as uint8 HxWx3 RGB of width x height,
    read through a rawvideo pipe from ffmpeg."""
    cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(path), "-an", "-sn",
           "-vf", f"scale={width}:{height}:flags=area", "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt",
           "rgb24", "pipe:1"]
    size = width * height * 3
    wanted, out, n = set(indices), {}, 0
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        while len(out) < len(wanted):
            buf = proc.stdout.read(size)
            if len(buf) < size:
                break
            if n in wanted:
                out[n] = np.frombuffer(buf, np.uint8).reshape(height, width, 3)
            n += 1
    finally:
        proc.kill()
        _, err = proc.communicate()
    missing = sorted(wanted - set(out))
    if missing:
        raise RuntimeError(f"{path}: frames {missing[:5]} not decoded ({len(missing)} missing): {err.decode()[-500:]}")
    return [out[i] for i in indices]


def _detect(service, frames: list[np.ndarray]) -> list[list[dict]]:
    found: list[list[dict]] = []
    for i in range(0, len(frames), _CHUNK):
        found.extend(service.handle(frames[i:i + _CHUNK]))
    if len(found) != len(frames):
        raise RuntimeError(f"{service.name}: {len(found)} answers for {len(frames)} frames")
    return found


# --- evaluation --------------------------------------------------------------------------------------------


def _boxes_clip(feature: str, truth: dict, indices: list[int], found: list[list[dict]]) -> tuple[dict, Tally]:
    total, shots = Tally(), {}
    for k, dets in zip(indices, found):
        shot, _ = eval_media.shot_at(truth, k)
        shots.setdefault(shot["index"], Tally()).add([d["box"] for d in dets], eval_media.boxes_in_frame(truth, k, feature))
    per_shot = []
    for index, tally in sorted(shots.items()):
        total.merge(tally)
        shot = truth["shots"][index]
        per_shot.append({"shot": index, "photo": shot["photo"], "count": shot[feature]["count"], **tally.as_dict()})
    return {**total.as_dict(), "shots": per_shot}, total


def _text_clip(truth: dict, indices: list[int], found: list[list[dict]]) -> dict:
    cards = []
    for card in truth["cards"]:
        seen = [(dets, box) for k, dets in zip(indices, found) if (box := eval_media.card_box(truth, card, k)) is not None]
        read, value, frames_read = best_read(seen, card["text"])
        _, nocase, _ = best_read(seen, card["text"], nocase=True)
        cards.append({"text": card["text"], "read": read, "cer": value, "cer_nocase": nocase, "frames": len(seen),
                      "frames_read": frames_read})
    text_free = false_frames = 0
    false_reads, stray = [], []
    for k, dets in zip(indices, found):
        boxes = eval_media.boxes_in_frame(truth, k, "text")
        if not eval_media.shot_at(truth, k)[0]["text"]["count"]:
            text_free += 1
            false_frames += bool(dets)
            false_reads += [d.get("text", "") for d in dets]
        else:
            stray += [d.get("text", "") for d in dets if not any(inside(d["box"], b) >= OVERLAP for b in boxes)]
    return {"cards": cards, "text_free_frames": text_free, "false_text_frames": false_frames,
            "false_reads": sorted(set(false_reads)), "stray_count": len(stray), "stray_reads": sorted(set(stray))}


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def _text_summary(clips: dict) -> dict:
    cards = [c for clip in clips.values() for c in clip["cards"]]
    free = sum(c["text_free_frames"] for c in clips.values())
    false = sum(c["false_text_frames"] for c in clips.values())
    return {"cards": len(cards), "mean_cer": _mean([c["cer"] for c in cards]), "max_cer": max((c["cer"] for c in cards), default=None),
            "mean_cer_nocase": _mean([c["cer_nocase"] for c in cards]), "cards_read": sum(c["cer"] <= READ_CER for c in cards),
            "text_free_frames": free, "false_text_frames": false, "false_text_rate": _ratio(false, free),
            "stray_reads": sum(c["stray_count"] for c in clips.values())}


def evaluate(feature: str, service, clips: Iterable[eval_media.Clip | tuple[Path, dict]]) -> dict:
    """Run `service` (a `models.frame_model.FrameModel`) on those of `clips` evaluated for `feature`
    ("people", "faces" or "text"): a JSON-able dict of the model, the settings, a summary and the
    figures per clip."""
    if feature not in ("people", "faces", "text"):
        raise ValueError(f"unknown feature {feature!r}")
    spec = service.spec
    per_clip, total, media = {}, Tally(), {}
    for path, truth in clips:
        if feature not in truth["features"]:
            continue
        media[truth["name"]] = truth.get("media_key")
        indices = sample_frames(truth, spec.fps)
        width, height = frame_size(truth["width"], truth["height"], spec.max_side)
        found = _detect(service, decode(path, indices, width, height))
        if feature == "text":
            per_clip[truth["name"]] = {"frames": len(indices), **_text_clip(truth, indices, found)}
        else:
            per_clip[truth["name"]], tally = _boxes_clip(feature, truth, indices, found)
            total.merge(tally)
    if not per_clip:
        raise ValueError(f"no clip is evaluated for {feature!r}")
    summary = _text_summary(per_clip) if feature == "text" else total.as_dict()
    return {"model": service.describe(), "feature": feature, "frames": spec.as_dict(),
            "iou_match": None if feature == "text" else IOU_MATCH, "media_build": eval_media.BUILD,
            "clips_evaluated": sorted(per_clip), "media": media, "summary": summary, "clips": per_clip}


# --- the command ---------------------------------------------------------------------------------------------


def quality(result: dict) -> dict:
    """What goes into a manifest's `quality` key: the evaluation without the model's own description
    (the manifest is that), with when and on what device; `media` names the clips by their key."""
    return {"measured": datetime.now(UTC).isoformat(timespec="seconds"), "by": "python -m models.build.frame_eval",
            "device": result["model"].get("device"), "threads": result["model"].get("threads"),
            **{k: v for k, v in result.items() if k != "model"}}


def write_quality(artifact_dir: Path, figures: dict) -> None:
    """Put `figures` under the manifest's `quality` key and check the artifact still verifies (the
    manifest's file list does not include the manifest)."""
    from models.registry import MANIFEST, verify

    path = Path(artifact_dir) / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["quality"] = figures
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    verify(Path(artifact_dir))


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def table(result: dict) -> str:
    """One line per clip and a total line."""
    ref = f"{result['model']['name']}@{result['model']['version']}"
    if result["feature"] == "text":
        head = f"{'model':28} {'clip':14} {'frames':>6} {'cards':>5} {'meanCER':>8} {'maxCER':>7} {'read':>5} {'false':>9} {'stray':>5}"
        rows = []
        for name, clip in result["clips"].items():
            cers = [c["cer"] for c in clip["cards"]]
            rows.append(f"{ref:28} {name:14} {clip['frames']:>6} {len(cers):>5} {_fmt(_mean(cers)):>8} "
                        f"{_fmt(max(cers, default=None)):>7} {sum(c <= READ_CER for c in cers):>5} "
                        f"{clip['false_text_frames']:>4}/{clip['text_free_frames']:<4} {clip['stray_count']:>5}")
            rows += [f"{'':44} {c['text']!r} -> {c['read']!r} (CER {c['cer']:.3f})" for c in clip["cards"]]
        s = result["summary"]
        rows.append(f"{ref:28} {'(all)':14} {'':>6} {s['cards']:>5} {_fmt(s['mean_cer']):>8} {_fmt(s['max_cer']):>7} "
                    f"{s['cards_read']:>5} {s['false_text_frames']:>4}/{s['text_free_frames']:<4} {s['stray_reads']:>5}")
    else:
        head = f"{'model':28} {'clip':14} {'frames':>6} {'true':>5} {'found':>5} {'recall':>7} {'precis.':>7} {'exact#':>7} {'IoU':>6}"
        rows = [f"{ref:28} {name:14} {r['frames']:>6} {r['true']:>5} {r['found']:>5} {_fmt(r['recall']):>7} "
                f"{_fmt(r['precision']):>7} {_fmt(r['exact_count']):>7} {_fmt(r['mean_iou']):>6}"
                for name, r in [*result["clips"].items(), ("(all)", result["summary"])]]
    return "\n".join([head, *rows])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.build.frame_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the figures into each manifest's `quality` key")
    parser.add_argument("--store", default=None, help="model store (default: the MODEL_STORE setting)")
    parser.add_argument("--model", action="append", choices=MODELS, help="evaluate only this one (repeatable)")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    from models.registry import default_store, load_model, resolve

    store = Path(default_store(args.store))
    results = {}
    for name in args.model or MODELS:
        if not (store / name).is_dir():
            print(f"{name}: not in {store}, skipped (build it with `make model`)", file=sys.stderr)
            continue
        service = load_model(name, store)
        result = evaluate(service.feature, service, eval_media.eval_clips(service.feature))
        results[name] = result
        print(table(result), "\n", flush=True)
        if args.write:
            write_quality(resolve(name, service.version, store), quality(result))
            print(f"{name}@{service.version}: quality written to its manifest", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
