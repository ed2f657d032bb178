"""Sharded pattern: plan segments, tag each on the shard pool, merge in a chord callback.

plan_video (merge queue) -> chord(tag_segment x k on `segments` or `shard.<n>`) -> merge_tags
(merge queue, which long segment tasks cannot block). With the Redis result backend a failed
header task means the callback never runs, so tag_segment never raises: a segment that fails for
good returns an error marker that merge_tags turns into a job error naming the segment and its
time range; a watchdog (tasks.replica) fails any job still unfinished at its deadline.
"""

from __future__ import annotations

import time

import redis
from celery import chord

from brigade import jobs
from brigade.heartbeats import list_replicas
from brigade.result_cache import get_cached, put_cached
from brigade.settings import get_settings
from brigade.sharding import (
    PlanError,
    Segment,
    boundary_targets,
    cut_search_windows,
    decode_cost_curve,
    longest_first,
    max_segment_seconds,
    plan_segments,
    range_costs,
    shard_for,
    target_length,
)
from brigade.storage import local_path
from media.index import read_packet_index
from media.probe import ProbeError, VideoInfo, probe
from media.scenes import SceneDetectionError, detect_cuts
from models.registry import read_manifest
from models.service import pinned_ref
from tasks import queues
from tasks.base import JobTask
from tasks.celery_app import app
from tasks.replica import process_id

#: Faults worth a retry with backoff; anything else is a property of the input and fails the segment.
TRANSIENT = (redis.ConnectionError, redis.TimeoutError, ConnectionError, TimeoutError)


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


def _probed(job_id: str, path) -> VideoInfo:
    """The API's probe of this very file (content-addressed by sha256), else a fresh one."""
    stored = ((jobs.get_job(job_id) or {}).get("input") or {}).get("probe")
    try:
        return VideoInfo(**stored)
    except TypeError:  # none stored, or from an older release
        return probe(path)


@app.task(name="tasks.sharded.plan_video", base=JobTask)
def plan_video(job_id: str, video_uri: str, sha256: str, fast: bool = False) -> dict:
    s = get_settings()
    started = time.perf_counter()
    path = local_path(video_uri)
    info = _probed(job_id, path)
    try:
        max_len = max_segment_seconds(s.SEGMENT_MEMORY_MB, info.width, info.height, s.SEGMENT_MAX_S)
    except PlanError as exc:
        jobs.fail(job_id, {"type": "plan-failed", "detail": str(exc)})
        return {"job_id": job_id, "failed": True}
    segments, plan = plan_for(path, info, max_len, max(1, live_shard_workers()), fast)
    jobs.update_job(job_id, status=jobs.RUNNING, started_at=time.time(), segments_total=len(segments), plan=plan)
    jobs.set_deadline(job_id, s.SHARDED_JOB_TIMEOUT_S)
    header = [
        tag_segment.s(job_id=job_id, video_uri=video_uri, sha256=sha256, start=seg.start, end=seg.end,
                      segment_id=seg.segment_id, fast=fast).set(queue=segment_queue(sha256, seg))
        for seg in segments
    ]
    callback = merge_tags.s(job_id=job_id, cuts=plan["cuts"], plan_s=time.perf_counter() - started,
                            planned_at=time.time()).set(queue=queues.MERGE)
    chord(header)(callback)
    return {"job_id": job_id, "segments": len(segments)}


def _error_marker(segment: dict, exc: BaseException) -> dict:
    return {**segment, "status": "error", "error": f"{exc.__class__.__name__}: {exc}"[-1500:]}


@app.task(name="tasks.sharded.tag_segment", bind=True, trims_memory=True)
def tag_segment(self, job_id: str, video_uri: str, sha256: str, start: float, end: float, segment_id: int,
                fast: bool = False) -> dict:
    from models.tagger.inference import TagRequest, tag_request
    from tasks.warmup import tagger as load_tagger

    segment = {"segment_id": segment_id, "start": start, "end": end}
    try:
        model = load_tagger()
        cache_parts = (sha256, f"{start:.3f}", f"{end:.3f}", model.ref, "fast" if fast else "full")
        result, began = get_cached("segment", *cache_parts), time.time()
        cached = result is not None
        if not cached:
            started = time.perf_counter()
            raw = tag_request(model, TagRequest(str(local_path(video_uri)), start, end, fast))
            result = {**segment, "status": "ok", "windows": raw["windows"], "frames": raw["frames"], "cuts": raw["cuts"],
                      "model": {**model.describe(), "vocab": model.vocab},
                      "timings": {**raw["timings"], "total_s": round(time.perf_counter() - started, 4)}}
            put_cached("segment", result, *cache_parts)
        result = {**result, "worker": process_id(), "ran": {"cached": cached, "began_at": began, "ended_at": time.time()}}
        jobs.mark_segment_done(job_id, segment_id)
        return result
    except TRANSIENT as exc:
        if self.request.retries < get_settings().SEGMENT_MAX_RETRIES:
            raise self.retry(exc=exc, countdown=min(30, 2 ** self.request.retries)) from exc
        return _error_marker(segment, exc)
    except Exception as exc:  # the input's fault: report it, never let the chord hang on it
        return _error_marker(segment, exc)


def _when(segment: dict, planned_at: float) -> dict:
    """When the segment ran, in seconds after the plan was dispatched, and whether the cache answered."""
    ran = segment.get("ran") or {}
    if "began_at" not in ran:
        return {}
    return {"cached": ran["cached"], "ran_s": [round(ran["began_at"] - planned_at, 3), round(ran["ended_at"] - planned_at, 3)]}


@app.task(name="tasks.sharded.merge_tags", base=JobTask)
def merge_tags(results: list[dict], job_id: str, cuts: list[float], plan_s: float, planned_at: float) -> dict:
    from models.tagger.timeline import brief, summarize

    started = time.perf_counter()
    failed = sorted((r for r in results if r.get("status") != "ok"), key=lambda r: r["start"])
    if failed:
        first = failed[0]
        names = ", ".join(f"segment {r['segment_id']} [{r['start']:.1f}s-{r['end']:.1f}s]" for r in failed)
        jobs.fail(job_id, {"type": "segment-failed", "detail": f"{names} failed: {first['error']}",
                           "segments": [{k: r[k] for k in ("segment_id", "start", "end", "error")} for r in failed]})
        return {"job_id": job_id, "failed": True}
    segments = sorted({r["segment_id"]: r for r in results}.values(), key=lambda r: r["start"])  # dedupe
    meta = segments[0]["model"]
    vocab = meta["vocab"]
    windows = [w for seg in segments for w in seg["windows"]]
    # Shots: the cuts each segment found in its range, plus the planner's (segment boundaries sit
    # on cuts, and a cut exactly at a boundary is inside neither segment's open range).
    all_cuts = sorted({*cuts, *(c for seg in segments for c in seg.get("cuts", []))})
    summary = summarize(windows, **vocab, cuts=all_cuts, span=[segments[0]["start"], segments[-1]["end"]])
    per_segment = [
        {"segment_id": seg["segment_id"], "start": seg["start"], "end": seg["end"], "worker": seg.get("worker"),
         "tags": brief(summarize(seg["windows"], **vocab, span=[seg["start"], seg["end"]])["tags"]),
         **_when(seg, planned_at)}
        for seg in segments
    ]
    merge_s = time.perf_counter() - started
    segment_s = [seg["timings"]["total_s"] for seg in segments]
    timings = {"plan_s": round(plan_s, 4), "segments_wall_s": round(time.time() - planned_at - merge_s, 4),
               "segment_compute_s": round(sum(segment_s), 4), "merge_s": round(merge_s, 4)}
    result = {**summary, "segments": per_segment, "duration_s": segments[-1]["end"], "frames": sum(s["frames"] for s in segments)}
    jobs.succeed(job_id, result, timings=timings, model={k: meta[k] for k in ("name", "version", "device")})
    return {"job_id": job_id, "segments": len(segments)}
