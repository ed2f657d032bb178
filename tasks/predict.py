"""Replicated pattern: tag a whole video on one of N identical `predict` replicas."""

from __future__ import annotations

import time

from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.log import get_task_logger

from brigade import jobs
from brigade.features import DEFAULT as DEFAULT_FEATURES
from brigade.features import LABELS, frame_features, parse_features
from brigade.result_cache import get_cached, put_cached
from brigade.settings import get_settings
from brigade.storage import StorageError, check_named_by, local_path
from tasks.base import JobTask, public_error
from worker.celery_app import app
from worker.identity import process_id
from worker.warmup import described, feature_key
from worker.warmup import frame_models as load_frame_models
from worker.warmup import tagger as load_tagger

log = get_task_logger(__name__)


class ProgressReporter:
    """Writes progress to the job record at most every `every_s` seconds."""

    def __init__(self, job_id: str, every_s: float = 0.5):
        self.job_id, self.every_s, self._last = job_id, every_s, 0.0

    def __call__(self, done: float, total: float) -> None:
        now = time.monotonic()
        if now - self._last >= self.every_s or done >= total:
            self._last = now
            jobs.set_progress(self.job_id, round(done, 2), round(total, 2), "video-seconds")


def public_result(tagged: dict, wanted: tuple[str, ...] = DEFAULT_FEATURES) -> dict:
    """What a client sees for a whole-video job: the service's summary (tags, scores, timeline,
    shots: the same `summarize` the sharded merge calls; `people`, `faces`, `text` where asked),
    without the per-window scores and the raw detections."""
    keep = ("tags", "scores", "timeline", "shots", "duration_s", "frames", *frame_features(wanted))
    return {"features": list(wanted), **{k: tagged[k] for k in keep}}


@app.task(name="tasks.predict.tag_video", bind=True, base=JobTask)
def tag_video(self, job_id: str, video_uri: str, sha256: str, fast: bool = False, features: list | None = None,
              probe: dict | None = None) -> dict:
    """`probe`: the API's probe of this very file (`VideoInfo.as_dict()`, the file is content-addressed):
    its stream facts spare the worker a PyAV open; without it (an older API) the file is read."""
    from media.decode_modes import decode_label
    from media.frames import DecodeError
    from media.probe import facts_of
    from models.tagger.inference import TagRequest

    started = time.perf_counter()
    try:
        check_named_by(video_uri, sha256)  # before the cache: a forged sha256 must not read or write it
    except StorageError as exc:
        jobs.fail(job_id, {"type": "invalid-message", "detail": public_error(exc)})
        return {"job_id": job_id, "failed": True}
    model = load_tagger()
    wanted = parse_features(features)
    frame_models = load_frame_models(wanted)
    mode = decode_label(get_settings().DECODE_MODE, fast)
    cache_parts = (sha256, model.ref, mode, *feature_key(wanted, frame_models))
    cached = get_cached("tags", *cache_parts)
    if cached is not None:  # nothing decoded, nothing inferred this time
        done = {"done": cached["duration_s"], "total": cached["duration_s"], "unit": "video-seconds"}
        timings = {"total_s": time.perf_counter() - started, "decode_s": 0.0, "infer_s": 0.0, "frames_decoded": 0,
                   "frames_sampled": 0, "decode_mode": mode}
        jobs.succeed(job_id, {**cached, "cached": True}, timings=timings, model=described(model, frame_models), progress=done)
        return {"job_id": job_id, "cached": True}
    jobs.mark_running(job_id, process_id())
    try:
        tagged = model.handle(TagRequest(str(local_path(video_uri)), fast=fast, progress=ProgressReporter(job_id),
                                         frame_models=frame_models, labels=LABELS in wanted, facts=facts_of(probe)))
    except (DecodeError, StorageError) as exc:
        log.warning("job %s: %s", job_id, exc)
        jobs.fail(job_id, {"type": "decode-failed", "detail": public_error(exc)})
        return {"job_id": job_id, "failed": True}
    except SoftTimeLimitExceeded:
        jobs.fail(job_id, {"type": "time-limit", "detail": f"tagging exceeded {self.soft_time_limit or app.conf.task_soft_time_limit}s"})
        return {"job_id": job_id, "failed": True}
    result = public_result(tagged, wanted)
    put_cached("tags", result, *cache_parts)
    timings = {**tagged["timings"], "total_s": round(time.perf_counter() - started, 4)}
    done = {"done": result["duration_s"], "total": result["duration_s"], "unit": "video-seconds"}
    jobs.succeed(job_id, {**result, "cached": False}, timings=timings, model=described(model, frame_models), progress=done)
    return {"job_id": job_id, "cached": False}
