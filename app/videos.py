"""POST /v1/videos: stream the upload to shared storage, probe it, create a job, enqueue it."""

from __future__ import annotations

from flask import Blueprint, current_app, request, url_for

from app import context
from app.dispatch import submit
from app.errors import ApiError
from app.tiers import job_owner
from app.uploads import receive_upload
from app.webhooks import requested_callback
from brigade import jobs
from brigade.features import DEFAULT as DEFAULT_FEATURES
from brigade.features import FeatureError, parse_features
from brigade.storage import StorageError
from media.probe import ProbeError, probe
from worker import work

bp = Blueprint("videos", __name__)
#: Probe refusals that say what the upload is (415); the others say what is wrong with it (422).
UNSUPPORTED = frozenset({"unsupported-container", "unsupported-codec"})



def _flag(name: str) -> bool:
    return request.args.get(name, "").lower() in {"1", "true", "yes"}


@bp.post("/v1/videos")
def submit_video():
    callback = requested_callback()  # before the upload is read: a refused callback costs no bytes
    wanted = requested_features()  # likewise
    upload, filename = receive_upload()
    try:
        info = probe(upload.path, size_bytes=upload.size, settings=context.settings())  # limits included
    except ProbeError as exc:
        upload.discard()
        raise ApiError(415 if exc.code in UNSUPPORTED else 422, exc.code, exc.detail) from exc
    mode = choose_mode(info.duration_s, upload.size, request.args.get("mode", "auto"))
    try:
        video_uri, _ = upload.commit(info.extension)  # the probed container's, never the client's
    except StorageError as exc:  # the temp file stays; the request's teardown discards it
        current_app.logger.warning("upload storage failed: %s", exc)
        raise ApiError(503, "storage-unavailable", "the upload could not be stored; retry later") from exc
    fast, probed = _flag("fast"), info.as_dict()
    job_id = jobs.new_job_id()
    # The probe travels with the work: the planner sizes segments from it, and every worker reads
    # the stream's facts from it instead of opening the file again.
    message = {"job_id": job_id, "video_uri": video_uri, "sha256": upload.sha256, "fast": fast, "probe": probed}
    if wanted != DEFAULT_FEATURES:  # a labels-only message names no features (the default)
        message["features"] = list(wanted)
    submit("video-tags", mode, work.task_for(request.endpoint, mode), message, job_id=job_id, input={
        "filename": filename, "sha256": upload.sha256, "video_uri": video_uri, "probe": probed, "fast": fast,
        "features": list(wanted),
    }, owner=job_owner(), **callback)
    status_url = url_for("jobs.get_job", job_id=job_id)
    return {"job_id": job_id, "status": jobs.QUEUED, "mode": mode, "status_url": status_url}, 202, {"Location": status_url}


def requested_features() -> tuple[str, ...]:
    """`?features=labels,people,faces,text` (default labels): 400 on a name it does not know."""
    try:
        return parse_features(request.args.get("features"))
    except FeatureError as exc:
        raise ApiError(400, "invalid-parameter", str(exc)) from exc


def choose_mode(duration_s: float, size_bytes: int, requested: str) -> str:
    """`single` (one predict replica) or `sharded` (segments in parallel); `?mode=` overrides."""
    modes = work.variants("videos.submit_video")
    if requested != "auto" and requested not in modes:
        raise ApiError(400, "invalid-parameter", f"mode={requested!r}: use {', '.join(modes)} or auto")
    if requested != "auto":
        return requested
    s = context.settings()
    return "sharded" if duration_s > s.SHARD_THRESHOLD_S or size_bytes > s.SHARD_THRESHOLD_BYTES else "single"

