"""Score a tagger against generated ground truth: per-window mAP and per-tag F1.

A window is labelled with the tags of the scene it lies in; windows with a hard cut strictly inside
them show two scenes and are left out (they are counted in `straddling_windows`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.build.synth import GroundTruth, make_clip, random_scenes
from models.tagger.inference import tag_file

#: rendered frame sizes, used in turn: 4:3 and 16:9, low and higher resolution all get squashed to 128x128
FRAME_SIZES = ((320, 240), (384, 216), (640, 360))


def window_labels(gt: GroundTruth, starts: np.ndarray, window_s: float, labels: list[str]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(multi-hot float32 [N, labels], bool [N] window lies inside one scene)."""
    starts = np.asarray(starts, np.float64)
    cuts = np.asarray(gt.cuts)
    ends = np.minimum(starts + window_s, gt.duration_s)
    inside = ~((cuts[None, :] > starts[:, None] + 1e-6) & (cuts[None, :] < ends[:, None] - 1e-6)).any(axis=1)
    index = {label: i for i, label in enumerate(labels)}
    y = np.zeros((len(starts), len(labels)), np.float32)
    for row, start in enumerate(starts):
        for tag in gt.tags_at(float(start) + 1e-6):
            if tag in index:
                y[row, index[tag]] = 1
    return y, inside


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve (step interpolation, as sklearn computes it)."""
    positives = y_true.sum()
    if positives == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    hits = y_true[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / positives)


def f1_at(y_true: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> float:
    predicted = scores >= threshold
    tp = float((predicted & (y_true > 0)).sum())
    denominator = predicted.sum() + (y_true > 0).sum()
    return float(2 * tp / denominator) if denominator else 1.0


def metrics(y_true: np.ndarray, probs: np.ndarray, labels: list[str], threshold: float = 0.5) -> dict:
    ap = {label: average_precision(y_true[:, i], probs[:, i]) for i, label in enumerate(labels)}
    f1 = {label: f1_at(y_true[:, i], probs[:, i], threshold) for i, label in enumerate(labels)}
    present = [value for value in ap.values() if not np.isnan(value)]
    return {
        "mAP": round(float(np.mean(present)), 4),
        "ap": {label: round(value, 4) for label, value in ap.items() if not np.isnan(value)},
        "f1_at_0.5": {label: round(value, 4) for label, value in f1.items()},
        "windows": int(len(y_true)),
    }


def heldout_clips(folder, *, seed: int, clips: int, clip_s: float, min_scene_s=2.0, max_scene_s=6.0,
                  sizes=FRAME_SIZES) -> list[tuple[Path, GroundTruth]]:
    """Render `clips` multi-scene evaluation videos (seeds seed, seed+1, ...; `sizes` in turn)."""
    out = []
    for i in range(clips):
        path = Path(folder) / f"heldout-{seed + i}.mp4"
        scenes = random_scenes(seed + i, clip_s, min_scene_s, max_scene_s)
        width, height = sizes[i % len(sizes)]
        out.append((path, make_clip(path, seed=seed + i, scenes=scenes, width=width, height=height)))
    return out


def labelled_windows(result: dict, gt: GroundTruth, labels: list[str], window_s: float
                     ) -> tuple[np.ndarray, np.ndarray, int]:
    """(truth [N, labels], probabilities [N, labels], straddling count) of a `tag_file` result."""
    starts = np.array([w["start"] for w in result["windows"]])
    probs = np.array([[w["scores"][label] for label in labels] for w in result["windows"]], np.float32)
    y, inside = window_labels(gt, starts, window_s, labels)
    return y[inside], probs[inside], int((~inside).sum())


def evaluate(tagger, clips: list[tuple[Path, GroundTruth]], *, fast: bool = False) -> dict:
    """Tag each clip end to end (decode + model) and score its windows."""
    ys, ps, straddling = [], [], 0
    for path, gt in clips:
        y, probs, skipped = labelled_windows(tag_file(tagger, path, fast=fast), gt, tagger.labels, tagger.window_s)
        ys.append(y)
        ps.append(probs)
        straddling += skipped
    report = metrics(np.concatenate(ys), np.concatenate(ps), tagger.labels, tagger.threshold)
    report["straddling_windows"] = straddling
    return report
