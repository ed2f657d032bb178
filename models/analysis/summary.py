"""From per-frame findings to what a client sees for `people`, `faces` and `text`.

The single path and the sharded merge call the same functions on the same samples (a segment
returns its raw samples; the merge concatenates them in time order), so both answer the same: a
string read on both sides of a segment boundary is one entry with one time range. Pure Python: the
merge runs on the control pool, which loads no model.

A feature's raw form is `{"period": seconds between its samples, "samples": [{"t", "found"}]}`,
where `found` is what the model returned for the frame stamped `t` (`models.frame_model.detection`
dicts); a sample covers [t, t + period).
"""

from __future__ import annotations

import unicodedata

#: Two reads are one string when their edit distance is at most this share of the longer one
#: (a letter misread on one frame of a title card) and they are on screen at overlapping or
#: touching times.
SAME_TEXT = 0.2


def _ranges(times: list[float], period: float, end: float | None) -> list[list[float]]:
    """[[start, end], ...]: the stretches covered by samples at `times` (each lasting `period`),
    touching samples joined; clipped at `end`."""
    ranges: list[list[float]] = []
    for t in sorted(times):
        stop = t + period if end is None else min(t + period, end)
        if ranges and t <= ranges[-1][1] + 1e-6:
            ranges[-1][1] = max(ranges[-1][1], stop)
        else:
            ranges.append([t, stop])
    return [[round(a, 3), round(b, 3)] for a, b in ranges if b > a]


def summarize_counts(raw: dict, end: float | None = None) -> dict:
    """People or faces: how many per sampled time (with their boxes), the most at once, and when
    any are on screen."""
    samples = sorted(raw["samples"], key=lambda s: s["t"])
    rows = [{"t": s["t"], "count": len(s["found"]),
             "boxes": [[*d["box"], d["score"]] for d in s["found"]]} for s in samples]
    return {
        "max_count": max((r["count"] for r in rows), default=0),
        "sampled": len(rows),
        "seen": _ranges([r["t"] for r in rows if r["count"]], raw["period"], end),
        "period_s": raw["period"],
        "samples": rows,
    }


def normalized(text: str) -> str:
    """The form two reads are compared in: Unicode NFKC, case folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), O(len(a) * len(b))."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _similar(a: str, b: str) -> bool:
    longest = max(len(a), len(b))
    return longest > 0 and edit_distance(a, b) <= SAME_TEXT * longest


def summarize_text(raw: dict, end: float | None = None) -> list[dict]:
    """Each distinct string on screen, once: its spelling (the one read most often, then the most
    confident), when it was on screen, its box (where it was read most confidently), its best
    confidence and how many sampled frames read it; in order of first appearance."""
    period = raw["period"]
    groups: list[dict] = []  # each: reads [(t, detection)], key of its first read, last time seen
    for sample in sorted(raw["samples"], key=lambda s: s["t"]):
        for found in sorted(sample["found"], key=lambda d: (d["box"][1], d["box"][0])):
            key = normalized(found.get("text", ""))
            if not key:
                continue
            group = next((g for g in groups if sample["t"] - g["last"] <= period + 1e-6 and _similar(key, g["key"])), None)
            if group is None:
                group = {"key": key, "reads": [], "last": sample["t"]}
                groups.append(group)
            group["reads"].append((sample["t"], found))
            group["last"] = sample["t"]
    entries = []
    for group in groups:
        spellings: dict[str, list[float]] = {}
        for _, found in group["reads"]:
            spellings.setdefault(found["text"].strip(), []).append(found["score"])
        text = max(spellings, key=lambda s: (len(spellings[s]), max(spellings[s]), s))
        best = max(group["reads"], key=lambda read: read[1]["score"])[1]
        entries.append({"text": text, "ranges": _ranges(sorted({t for t, _ in group["reads"]}), period, end),
                        "box": best["box"], "confidence": best["score"], "reads": len(group["reads"])})
    return _join_reappearances(entries)


def _join_reappearances(entries: list[dict]) -> list[dict]:
    """One entry per string: a title seen again later (after a cut, or after a frame that misread
    it) adds a time range to its first entry."""
    joined: list[dict] = []
    for entry in entries:
        same = next((j for j in joined if normalized(j["text"]) == normalized(entry["text"])), None)
        if same is None:
            joined.append(entry)
            continue
        same["ranges"] = _ranges_union(same["ranges"] + entry["ranges"])
        if entry["confidence"] > same["confidence"]:
            same["box"], same["confidence"] = entry["box"], entry["confidence"]
        same["reads"] += entry["reads"]
    return joined


def _ranges_union(ranges: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1] + 1e-6:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out


def person_tag(people: dict) -> dict | None:
    """`Person` for the clip's tags when the person detector saw anyone: its score is the best
    detection's, its coverage the seconds with someone on screen."""
    scores = [box[4] for row in people["samples"] for box in row["boxes"]]
    if not scores:
        return None
    covered = sum(b - a for a, b in people["seen"])
    return {"label": "Person", "score": round(max(scores), 4), "covered_s": round(covered, 3), "parents": [],
            "source": "people"}


def summarize_features(detections: dict[str, dict], end: float | None = None) -> dict:
    """The `people`, `faces` and `text` parts of a result from their raw samples."""
    out: dict = {}
    for feature, raw in detections.items():
        out[feature] = summarize_text(raw, end) if feature == "text" else summarize_counts(raw, end)
    return out


def with_person(summary: dict, people: dict | None) -> dict:
    """`summary` (tags, scores, timeline) with `Person` added where the people detector saw
    someone and the tagger did not already say so."""
    tag = person_tag(people) if people else None
    if tag is None or any(t["label"] == "Person" for t in summary.get("tags", [])):
        return summary
    tags = sorted([*summary.get("tags", []), tag], key=lambda t: (-t["score"], t["label"]))
    return {**summary, "tags": tags, "scores": {**summary.get("scores", {}), "Person": tag["score"]},
            "timeline": {**summary.get("timeline", {}), "Person": people["seen"]}}


def with_features(summary: dict, detections: dict | None, span: list[float] | None) -> dict:
    """A tagger's summary with the frame models' parts added (`people` also adds `Person` to the
    tags); unchanged when no frame model ran."""
    if not detections:
        return summary
    parts = summarize_features(detections, span[1] if span else None)
    return {**with_person(summary, parts.get("people")), **parts}
