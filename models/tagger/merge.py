"""One answer from a sharded job's segments: the whole video's tags, timeline and shots, as tagging
it in one piece gives them, and where the time went.

Shots are where single and sharded used to differ (a 55-second trailer: 11 shots single, 15
sharded): the merge added the planner's keyframe cuts, which see camera motion between keyframes
2 s apart as cuts and report a real cut at its keyframe, a fraction of a second from where the
5-fps shot branch reports it, so a segment boundary added a shot boundary next to a real one. Now
each segment reports every cut its own decode found in its range (its shot branch starts one
sample before the range, `TagRequest.segment`, so a cut right at a boundary is seen) and the
merge filters them once over the whole video with the single path's rule (`shot_cuts`): a
boundary without a cut splits no shot, and a cut reported on both sides of a boundary counts once.

Pure Python and numpy (`summarize`): the merge runs on the control pool, which loads no model.
"""

from __future__ import annotations

from media.decode_modes import KEYFRAMES
from models.analysis.summary import with_features
from models.tagger.timeline import shot_cuts, summarize


def merge_segments(segments: list[dict], vocab: dict, planner_cuts: list[float] = ()) -> dict:
    """The whole video's summary (tags, scores, timeline, shots) from its segments in time order,
    each with its `start`, `end`, `windows` and raw `cuts`. `planner_cuts` count only for segments
    decoded keyframes only (`fast`): their shot branch compares keyframes, as the planner's scan
    does, and has no lead (it would have to reach a keyframe back), so the planner's cuts cover a
    cut at a boundary there, as they did before."""
    span = [segments[0]["start"], segments[-1]["end"]]
    found = {c for seg in segments for c in seg.get("cuts", [])}
    if all(seg.get("timings", {}).get("decode_mode") == KEYFRAMES for seg in segments):
        found |= set(planner_cuts)
    cuts = shot_cuts(sorted(found), *span)
    windows = [w for seg in segments for w in seg["windows"]]
    return with_features(summarize(windows, **vocab, cuts=cuts, span=span), merged_detections(segments), span)


def merged_detections(segments: list[dict]) -> dict[str, dict]:
    """The frame models' samples of all segments, per feature, in time order (a sample the
    segments both hold, from a redelivered segment, once): what the whole-video decode samples,
    since segments start on the sampling grid."""
    merged: dict[str, dict] = {}
    for seg in segments:
        for feature, raw in (seg.get("detections") or {}).items():
            into = merged.setdefault(feature, {"period": raw["period"], "samples": {}})
            into["samples"].update({sample["t"]: sample for sample in raw["samples"]})
    return {feature: {"period": raw["period"], "samples": [raw["samples"][t] for t in sorted(raw["samples"])]}
            for feature, raw in merged.items()}


def summed_timings(parts: list[dict]) -> dict:
    """The segments' decode and inference seconds and frame counts added up (a count that a segment
    cached by an older release lacks makes the sum None), and their decode mode."""
    def total(key: str, digits: int = 0):
        values = [part.get(key) for part in parts]
        return None if None in values else round(sum(values), digits) if digits else sum(values)

    modes = sorted({part.get("decode_mode") for part in parts} - {None})
    summed = {"decode_s": total("decode_s", 4), "infer_s": total("infer_s", 4), "frames_decoded": total("frames_decoded"),
              "frames_sampled": total("frames_sampled"), "decode_mode": "+".join(modes) or None}
    models: dict[str, dict] = {}
    for part in parts:
        for feature, spent in (part.get("models") or {}).items():
            into = models.setdefault(feature, {"infer_s": 0.0, "frames": 0})
            into["infer_s"] = round(into["infer_s"] + spent["infer_s"], 4)
            into["frames"] += spent["frames"]
    return {**summed, "models": models} if models else summed
