"""Sharded pattern: plan segments, tag each on the shard pool, merge in a chord callback.

plan_video (control queue) -> chord(tag_segment x k on `segments` or `shard.<n>`) -> merge_tags
(control queue, which long segment tasks cannot block). With the Redis result backend a failed
header task means the callback never runs, so tag_segment never raises: a segment that fails for
good returns an error marker that merge_tags turns into a job error naming the segment and its
time range; a watchdog (brigade.deadlines.fail_overdue_jobs, run by worker.chores) fails any job still unfinished at its deadline.
"""

from __future__ import annotations

import time

from celery import chord
from celery.utils.log import get_task_logger

from brigade import deadlines, jobs, redis_client
from brigade.features import LABELS, parse_features
from brigade.result_cache import get_cached, put_cached
from brigade.settings import get_settings
from brigade.sharding import PlanError, max_segment_seconds
from brigade.storage import check_named_by, local_path
from tasks.base import JobTask, admission, public_error
from tasks.planner import live_shard_workers, plan_for, segment_facts, segment_queue, video_info
from worker import queues
from worker.celery_app import app
from worker.identity import process_id
from worker.warmup import described, feature_key

log = get_task_logger(__name__)

#: Faults worth a retry with backoff; anything else is a property of the input and fails the segment.
TRANSIENT = (*redis_client.TRANSIENT, ConnectionError, TimeoutError)


@app.task(name="tasks.sharded.plan_video", base=JobTask)
def plan_video(job_id: str, video_uri: str, sha256: str, fast: bool = False, probe: dict | None = None,
               features: list | None = None) -> dict:
    """`probe`: the API's probe of this very file (`VideoInfo.as_dict()`); without it (or if it
    does not parse) the file is probed again here."""
    s = get_settings()
    started = time.perf_counter()
    path = local_path(video_uri)
    info = video_info(probe, path)
    try:
        max_len = max_segment_seconds(s.SEGMENT_MEMORY_MB, info.width, info.height, s.SEGMENT_MAX_S)
    except PlanError as exc:
        jobs.fail(job_id, {"type": "plan-failed", "detail": str(exc)})
        return {"job_id": job_id, "failed": True}
    segments, plan = plan_for(path, info, max_len, max(1, live_shard_workers()), fast)
    wanted, facts = parse_features(features), segment_facts(info)
    jobs.update_job(job_id, status=jobs.RUNNING, started_at=time.time(), segments_total=len(segments), plan=plan)
    deadlines.set_deadline(job_id, s.SHARDED_JOB_TIMEOUT_S)
    header = [
        tag_segment.s(job_id=job_id, video_uri=video_uri, sha256=sha256, start=seg.start, end=seg.end,
                      segment_id=seg.segment_id, fast=fast, features=list(wanted), facts=facts
                      ).set(queue=segment_queue(sha256, seg))
        for seg in segments
    ]
    callback = merge_tags.s(job_id=job_id, cuts=plan["cuts"], plan_s=time.perf_counter() - started,
                            planned_at=time.time(), features=list(wanted)).set(queue=queues.CONTROL)
    chord(header)(callback)
    return {"job_id": job_id, "segments": len(segments)}


def _error_marker(segment: dict, exc: BaseException) -> dict:
    log.warning("segment %s failed: %s: %s", segment, exc.__class__.__name__, exc)
    return {**segment, "status": "error", "error": public_error(exc)}


@app.task(name="tasks.sharded.tag_segment", bind=True, trims_memory=True)
def tag_segment(self, job_id: str, video_uri: str, sha256: str, start: float, end: float, segment_id: int,
                fast: bool = False, features: list | None = None, facts: dict | None = None) -> dict:
    """`facts`: the file's stream facts from the job's probe (`tasks.planner.segment_facts`): the
    segment then opens no PyAV container; without them it reads them from the file."""
    from media.decode_modes import decode_label
    from media.probe import VideoFacts
    from models.tagger.inference import TagRequest
    from worker.warmup import frame_models as load_frame_models
    from worker.warmup import tagger as load_tagger

    segment = {"segment_id": segment_id, "start": start, "end": end}
    try:  # admission too: a Redis fault there must retry, never escape a chord header task
        refused = admission(job_id, self.request, f"{job_id}:{segment_id}")
        if refused is not None:  # an ended job's remaining segments cost nothing; a poison one ends here
            return {**segment, "status": "error", "error": refused["detail"]}
        check_named_by(video_uri, sha256)  # before the cache (see tag_video)
        model = load_tagger()
        wanted = parse_features(features)
        frame_models = load_frame_models(wanted)
        # "raw-cuts": segments report every cut in their range (the merge filters them), unlike before
        cache_parts = (sha256, f"{start:.3f}", f"{end:.3f}", model.ref, decode_label(get_settings().DECODE_MODE, fast), "raw-cuts",
                       *feature_key(wanted, frame_models))
        result, began = get_cached("segment", *cache_parts), time.time()
        cached = result is not None
        if not cached:
            started = time.perf_counter()
            raw = model.handle(TagRequest(str(local_path(video_uri)), start, end, fast, segment=True,
                                          frame_models=frame_models, labels=LABELS in wanted,
                                          facts=VideoFacts.from_dict(facts)))
            result = {**segment, "status": "ok", "windows": raw["windows"], "frames": raw["frames"], "cuts": raw["cuts"],
                      "detections": raw.get("detections", {}),
                      "model": {**described(model, frame_models), "vocab": model.vocab},
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
def merge_tags(results: list[dict], job_id: str, cuts: list[float], plan_s: float, planned_at: float,
               features: list | None = None) -> dict:
    from models.tagger.merge import merge_segments, summed_timings
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
    # Shots come from the segments' own cuts (models/tagger/merge.py); the planner's `cuts` placed the
    # boundaries and stay in the plan (in fast mode they also fill the segments' blind spot at a boundary).
    summary = merge_segments(segments, vocab, cuts)
    per_segment = [
        {"segment_id": seg["segment_id"], "start": seg["start"], "end": seg["end"], "worker": seg.get("worker"),
         "tags": brief(summarize(seg["windows"], **vocab, span=[seg["start"], seg["end"]])["tags"]),
         **_when(seg, planned_at)}
        for seg in segments
    ]
    merge_s = time.perf_counter() - started
    segment_s = [seg["timings"]["total_s"] for seg in segments]
    timings = {"plan_s": round(plan_s, 4), "segments_wall_s": round(time.time() - planned_at - merge_s, 4),
               "segment_compute_s": round(sum(segment_s), 4), "merge_s": round(merge_s, 4),
               **summed_timings([seg["timings"] for seg in segments])}
    result = {"features": list(parse_features(features)), **summary, "segments": per_segment, "duration_s": segments[-1]["end"],
              "frames": sum(s["frames"] for s in segments)}
    jobs.succeed(job_id, result, timings=timings, model={k: v for k, v in meta.items() if k != "vocab"})
    return {"job_id": job_id, "segments": len(segments)}
