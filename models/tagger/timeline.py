"""From per-window scores to what a client sees: clip tags, scores and a timeline.

The single path (one task, whole video) and the sharded path (windows of many segments merged)
both call `summarize`, so they answer the same tags for the same video. Pure numpy: the merge
callback runs on the light control pool.
"""

from __future__ import annotations

import numpy as np

MIN_TAG_S = 2.0  # a non-exclusive tag must cover this much video to count as present
SNAP_WINDOWS = 1.0  # a timeline boundary moves to a detected scene cut this close (in windows)


def _presence(probs: np.ndarray, labels: list[str], groups: dict, threshold: float) -> np.ndarray:
    """bool [N, L]: label l is shown in window i; one label at most per exclusive group."""
    present = probs >= threshold
    for group in groups.values():
        if not group.get("exclusive"):
            continue
        cols = [labels.index(label) for label in group["labels"] if label in labels]
        winner = np.asarray(cols)[probs[:, cols].argmax(axis=1)]
        keep = np.zeros_like(present)
        keep[np.arange(len(probs)), winner] = True
        present[:, cols] &= keep[:, cols]
    return _majority_filter(present)


def _majority_filter(present: np.ndarray) -> np.ndarray:
    """Drop one-window blips and fill one-window holes (3-window majority vote)."""
    if len(present) < 3:
        return present
    padded = np.concatenate([present[:1], present, present[-1:]]).astype(np.int8)
    votes = padded[:-2] + padded[1:-1] + padded[2:]
    return votes >= 2


def _runs(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[list[float]]:
    ranges: list[list[float]] = []
    for i in np.flatnonzero(mask):
        if ranges and starts[i] <= ranges[-1][1] + 1e-6:
            ranges[-1][1] = float(ends[i])
        else:
            ranges.append([float(starts[i]), float(ends[i])])
    return ranges


def _snap(value: float, cuts: np.ndarray, reach: float) -> float:
    if len(cuts):
        nearest = cuts[np.abs(cuts - value).argmin()]
        if abs(nearest - value) <= reach:
            return float(nearest)
    return value


def summarize(windows: list[dict], labels: list[str], groups: dict, threshold: float,
              cuts: list[float] | None = None) -> dict:
    """Clip tags (exclusive groups resolved by covered duration), duration-weighted scores, and a
    timeline tag -> [[start, end], ...] with boundaries snapped to nearby scene cuts."""
    if not windows:
        return {"tags": [], "scores": {}, "timeline": {}}
    ordered = sorted({w["start"]: w for w in windows}.values(), key=lambda w: w["start"])
    starts = np.array([w["start"] for w in ordered])
    ends = np.array([w["end"] for w in ordered])
    probs = np.array([[w["scores"].get(label, 0.0) for label in labels] for w in ordered], dtype=np.float64)
    weights = np.maximum(ends - starts, 1e-6)
    present = _presence(probs, labels, groups, threshold)
    cut_array = np.asarray(sorted(cuts or []), dtype=np.float64)
    reach = SNAP_WINDOWS * float(np.median(weights))

    timeline, covered, scores = {}, {}, {}
    for col, label in enumerate(labels):
        ranges = _runs(present[:, col], starts, ends)
        # Coverage from the windows themselves, so snapping (which only the sharded path can do,
        # having found cuts) never changes which tags a video gets.
        covered[label] = sum(e - s for s, e in ranges)
        ranges = [[round(_snap(s, cut_array, reach), 3), round(_snap(e, cut_array, reach), 3)] for s, e in ranges]
        ranges = [r for r in ranges if r[1] > r[0]]
        if ranges:
            timeline[label] = ranges
        mask = present[:, col]
        scores[label] = round(float(np.average(probs[mask, col], weights=weights[mask])), 4) if mask.any() else 0.0

    kept = {label for label in labels if covered[label] >= MIN_TAG_S}
    for group in groups.values():
        members = [label for label in group["labels"] if label in kept]
        if group.get("exclusive") and len(members) > 1:
            kept -= set(members) - {max(members, key=lambda label: (covered[label], scores[label]))}
    tags = sorted(({"label": label, "score": scores[label], "covered_s": round(covered[label], 3)} for label in kept),
                  key=lambda tag: (-tag["score"], tag["label"]))
    return {"tags": tags, "scores": scores, "timeline": {k: v for k, v in timeline.items()}}
