"""From per-window scores to what a client sees: clip tags, scores, a timeline and shots.

The single path (one task, whole video), each segment, and the sharded path's merge all call
`summarize`: it is the one definition of "the tags", so both paths answer the same tags for the
same video. Pure numpy: the merge callback runs on the light control pool.

The hierarchy holds everywhere: a label is shown in a window only where each of its parents is
(an exclusive group's loser takes its descendants with it: no Water under a suppressed Outdoor),
a clip tag is kept only with its parents, and a parent's score is at least its best child's.
"""

from __future__ import annotations

import numpy as np

from models.tagger.vocabulary import ancestors as lineage

MIN_TAG_S = 2.0  # a non-exclusive tag must cover this much video to count as present
SNAP_WINDOWS = 1.0  # a timeline boundary moves to a detected scene cut this close (in windows)
MIN_SHOT_S = 0.5  # no shot is shorter: a second report this close after a cut is the same cut


def _presence(probs: np.ndarray, labels: list[str], groups: dict, threshold: float,
              ancestors: dict[str, list[str]]) -> np.ndarray:
    """bool [N, L]: label l is shown in window i; one label at most per exclusive group, and only
    where its ancestors are shown too."""
    present = probs >= threshold
    for group in groups.values():
        if not group.get("exclusive"):
            continue
        cols = [labels.index(label) for label in group["labels"] if label in labels]
        winner = np.asarray(cols)[probs[:, cols].argmax(axis=1)]
        keep = np.zeros_like(present)
        keep[np.arange(len(probs)), winner] = True
        present[:, cols] &= keep[:, cols]
    for col, label in enumerate(labels):
        for up in ancestors.get(label, []):
            if up in labels:
                present[:, col] &= present[:, labels.index(up)]
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
              cuts: list[float] | None = None, parents: dict[str, list[str]] | None = None,
              span: list[float] | None = None) -> dict:
    """Clip tags (exclusive groups resolved by covered duration; each with its ancestors as
    `parents`), duration-weighted scores, a timeline tag -> [[start, end], ...] with boundaries
    snapped to nearby scene cuts, and `shots`: the stretches between cuts of `span` (default: the
    windows' extent), each with its own tags."""
    ancestors = lineage(parents or {})
    if not windows:  # no labels asked (or nothing decoded): the shots still stand, untagged
        bounds = [] if span is None else [span[0], *[c for c in sorted(cuts or []) if span[0] < c < span[1]], span[1]]
        shots = [{"shot": i, "start": round(a, 3), "end": round(b, 3), "tags": []}
                 for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))]
        return {"tags": [], "scores": {}, "timeline": {}, "shots": shots}
    ordered = sorted({w["start"]: w for w in windows}.values(), key=lambda w: w["start"])
    starts = np.array([w["start"] for w in ordered])
    ends = np.array([w["end"] for w in ordered])
    probs = np.array([[w["scores"].get(label, 0.0) for label in labels] for w in ordered], dtype=np.float64)
    cut_array = np.asarray(sorted(cuts or []), dtype=np.float64)
    summary = _tags(starts, ends, probs, labels, groups, threshold, ancestors, cut_array, MIN_TAG_S)
    first, last = (float(starts[0]), float(ends[-1])) if span is None else (float(span[0]), float(span[1]))
    bounds = [first, *[float(c) for c in cut_array if first < c < last], last]
    shots = []
    for index, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        inside = ((starts + ends) / 2 >= a) & ((starts + ends) / 2 < b)
        tags = []
        if inside.any():  # a shot needs half its length (at most MIN_TAG_S) covered to carry a tag
            tags = _tags(starts[inside], ends[inside], probs[inside], labels, groups, threshold, ancestors,
                         np.empty(0), min(MIN_TAG_S, (b - a) / 2))["tags"]
        shots.append({"shot": index, "start": round(a, 3), "end": round(b, 3), "tags": brief(tags)})
    return {**summary, "shots": shots}


def brief(tags: list[dict]) -> list[dict]:
    """Tags as a shot or a segment lists them: label and score only."""
    return [{"label": t["label"], "score": t["score"]} for t in tags]


def _tags(starts: np.ndarray, ends: np.ndarray, probs: np.ndarray, labels: list[str], groups: dict, threshold: float,
          ancestors: dict[str, list[str]], cut_array: np.ndarray, min_tag_s: float) -> dict:
    weights = np.maximum(ends - starts, 1e-6)
    present = _presence(probs, labels, groups, threshold, ancestors)
    reach = SNAP_WINDOWS * float(np.median(weights))

    timeline, covered, scores = {}, {}, {}
    for col, label in enumerate(labels):
        ranges = _runs(present[:, col], starts, ends)
        # Coverage from the windows themselves, so snapping to cuts never changes which tags a
        # video gets (the sharded path finds more cuts than the single one: near its boundaries).
        covered[label] = sum(e - s for s, e in ranges)
        ranges = [[round(_snap(s, cut_array, reach), 3), round(_snap(e, cut_array, reach), 3)] for s, e in ranges]
        ranges = [r for r in ranges if r[1] > r[0]]
        if ranges:
            timeline[label] = ranges
        mask = present[:, col]
        scores[label] = round(float(np.average(probs[mask, col], weights=weights[mask])), 4) if mask.any() else 0.0
    for label in labels:  # a parent scores at least its best descendant
        for up in ancestors.get(label, []):
            if up in scores:
                scores[up] = max(scores[up], scores[label])

    kept = {label for label in labels if covered[label] >= min_tag_s - 1e-9}
    for group in groups.values():
        members = [label for label in group["labels"] if label in kept]
        if group.get("exclusive") and len(members) > 1:
            kept -= set(members) - {max(members, key=lambda label: (covered[label], scores[label]))}
    kept = {label for label in kept if all(up in kept for up in ancestors.get(label, []) if up in labels)}
    tags = sorted(({"label": label, "score": scores[label], "covered_s": round(covered[label], 3),
                    "parents": list(ancestors.get(label, []))} for label in kept),
                  key=lambda tag: (-tag["score"], tag["label"]))
    return {"tags": tags, "scores": scores, "timeline": dict(timeline)}


def shot_cuts(found: list[float], start: float, end: float) -> list[float]:
    """The decode's scene cuts inside (start, end), at least MIN_SHOT_S after the range start and
    after the cut before: the frame after a hard cut often scores high against the cut frame too
    (a double report 0.2 s later), and no shot is that short."""
    kept: list[float] = []
    for cut in sorted(found):
        if start + MIN_SHOT_S <= cut < end and (not kept or cut - kept[-1] >= MIN_SHOT_S):
            kept.append(cut)
    return kept
