"""Planning a sharded job, from the file and its probe to the segments in dispatch order: the
packet index (decode cost), the scene cuts near each boundary, the segment math
(brigade/sharding.py) and which queue each segment goes to."""

from __future__ import annotations

import time

from brigade.heartbeats import list_replicas
from brigade.settings import get_settings
from brigade.sharding import (
    Segment,
    boundary_targets,
    cut_search_windows,
    decode_cost_curve,
    longest_first,
    plan_segments,
    range_costs,
    shard_for,
    target_length,
)
from media.index import read_packet_index
from media.probe import ProbeError, VideoInfo, info_of, probe
from media.scenes import SceneDetectionError, detect_cuts
from models.registry import read_manifest
from models.service import pinned_ref
from worker import queues


def video_info(probed: dict | None, path) -> VideoInfo:
    """The probe the message carries, else a fresh one of `path`."""
    return info_of(probed) or probe(path)


def segment_facts(info: VideoInfo) -> dict | None:
    """What each segment's decoder needs to know of the file (`VideoInfo.facts`), sent with it so
    no segment opens the file to read its header; None for a probe of an older API that lacks them
    (each segment then reads them itself)."""
    facts = info.facts()
    return facts.as_dict() if facts is not None else None


def segment_queue(sha256: str, segment: Segment) -> str:
    s = get_settings()
    if s.SHARD_ROUTING == "hash":
        return queues.shard_queue(shard_for(f"{sha256}:{segment.start:.3f}-{segment.end:.3f}", s.NUM_SHARDS))
    return queues.SEGMENTS


def live_shard_workers() -> int:
    s = get_settings()
    names = {queues.SEGMENTS, *queues.shard_queues(s.NUM_SHARDS)}
    return len({r["process"] for r in list_replicas(ready_only=True) if names & set(r.get("queues", []))})


def plan_for(path, info, max_len: float, workers: int, fast: bool) -> tuple[list[Segment], dict]:
    """Segments of equal decoding cost (from the packet index), about SEGMENTS_PER_WORKER per live
    shard worker, each boundary moved to a nearby scene cut and onto the tagger's window grid;
    returned in the order to dispatch them: costliest first (in time order without a cost curve),
    with the plan (its "cuts" are the scene cuts found)."""
    s = get_settings()
    began = time.perf_counter()
    target = target_length(info.duration_s, workers, s.SEGMENTS_PER_WORKER, s.SEGMENT_MIN_S, max_len)
    reach = min(target / 4, s.SCENE_SEARCH_S)
    cost = keyframes = start_s = None
    try:  # without the index, segments are equally long and the scan reach alone bounds it
        index = read_packet_index(path)
    except ProbeError:
        pass
    else:
        keyframes, start_s = index.keyframe_times, index.start_s
        if s.SEGMENT_BALANCE != "duration":
            decoded = index.keyframes if fast else slice(None)  # fast mode decodes keyframes only
            cost = decode_cost_curve(index.times[decoded], index.sizes[decoded], index.width, index.height)
    targets = boundary_targets(info.duration_s, target_s=target, max_s=max_len, cost=cost)
    indexed = time.perf_counter()
    try:  # cuts are a hint: without them, plan on cost alone (a bad range then fails its segment)
        windows = cut_search_windows(info.duration_s, targets, reach_s=reach, keyframes=keyframes)
        cuts, cut_note = detect_cuts(str(path), windows=windows, start_s=start_s), "ok"
    except SceneDetectionError as exc:
        cuts, cut_note = [], str(exc)[-300:]
    scanned = time.perf_counter()
    window_s = float(read_manifest(pinned_ref(s.TAGGER_MODEL))["input_spec"]["window_s"])
    segments = plan_segments(info.duration_s, cuts, min_s=s.SEGMENT_MIN_S, max_s=max_len, target_s=target,
                             reach_s=reach, align_s=window_s, targets=targets)
    shares = range_costs(segments, cost)
    plan = {"segments": [{**seg.as_dict(), "cost_share": round(share, 4)} for seg, share in zip(segments, shares, strict=True)],
            "cuts": cuts, "max_segment_s": round(max_len, 1),
            "target_segment_s": round(target, 1), "cut_search_s": round(reach, 1), "shard_workers": workers,
            "routing": s.SHARD_ROUTING, "scene_detection": cut_note,
            "balanced_by": "duration" if cost is None else "decode-cost",
            "timings": {"index_s": round(indexed - began, 4), "scene_scan_s": round(scanned - indexed, 4)}}
    return (segments if cost is None else longest_first(segments, shares)), plan  # no estimate: time order
