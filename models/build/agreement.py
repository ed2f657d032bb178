"""How far two taggings of the same video agree, and the noise floor to read that against.

A decode that skips frames moves which source frame fills a sample slot by a frame or two. Which
frame of each second the model sees is that arbitrary already, so the yardstick for a faster decode
is not identity but today's decode against itself one source frame later (`one_frame_later`): a
decode is good enough when it agrees with the full decode at least as well as that shift does.
`bench/bench_decode.py` reports both, `tests/test_decode_modes.py` holds them.
"""

from __future__ import annotations

from media.probe import open_media


def window_tags(result: dict, threshold: float) -> list[frozenset[str]]:
    """Each window's tags scored at or above `threshold`, in time order."""
    return [frozenset(k for k, v in w["scores"].items() if v >= threshold) for w in result["windows"]]


def window_agreement(a: list[dict], b: list[dict], threshold: float) -> float:
    """Share of windows (paired in order, over the shorter list) whose above-threshold tag sets are equal."""
    pairs = list(zip(window_tags({"windows": a}, threshold), window_tags({"windows": b}, threshold)))
    if not pairs:
        return float("nan")
    return round(sum(x == y for x, y in pairs) / len(pairs), 3)


def video_tags(result: dict) -> list[str]:
    return sorted(t["label"] for t in result["tags"])


def shot_tags(result: dict) -> list[list[str]]:
    return [sorted(t["label"] for t in shot["tags"]) for shot in result.get("shots", [])]


def cut_errors(reference: list[float], other: list[float]) -> list[float]:
    """For each reference cut, how far the nearest cut of `other` lies (inf when it has none)."""
    return [round(min((abs(c - o) for o in other), default=float("inf")), 3) for c in reference]


def compare(reference: dict, other: dict, threshold: float) -> dict:
    """`other` against `reference` (two `tag_file` results of one video)."""
    errors = cut_errors(reference.get("cuts", []), other.get("cuts", []))
    return {"window_agreement": window_agreement(reference["windows"], other["windows"], threshold),
            "same_video_tags": video_tags(reference) == video_tags(other),
            "same_shot_tags": shot_tags(reference) == shot_tags(other),
            "cuts": len(other.get("cuts", [])), "reference_cuts": len(reference.get("cuts", [])),
            "worst_cut_error_s": max(errors, default=0.0)}


def one_frame_later(path) -> float:
    """The start that makes a decode take, for every sample slot, the source frame after the one the
    decode from 0 takes: one frame period of the video's stream."""
    with open_media(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return 1.0 / float(rate)
