"""GET /v1/jobs/<id> renders a job record; `?wait=S` holds the request until it is terminal."""

from __future__ import annotations

import math
import re

from flask import Blueprint, request

from app import context
from app.dispatch import enqueue
from app.errors import ApiError
from app.views import render_job
from brigade import jobs
from tasks import work

bp = Blueprint("jobs", __name__)
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


@bp.get("/v1/jobs/<job_id>")
def get_job(job_id: str):
    if not _JOB_ID.match(job_id):
        raise ApiError(404, "job-not-found", f"no job {job_id!r}: job ids are 32 hex characters")
    record = jobs.wait_for_terminal(job_id, max_wait())
    if record is None:
        raise ApiError(404, "job-not-found", f"no job {job_id!r} (unknown, or expired after RESULT_EXPIRES_S)")
    return render_job(record)


@bp.post("/v1/echo")
def echo():
    """A trivial job through the whole path (HTTP -> broker -> replica -> job record -> HTTP);
    the benchmark compares its round trip with a bare Celery round trip."""
    payload = (request.get_json(silent=True) or {}).get("payload")
    job_id = jobs.create_job("echo", "single")
    enqueue(job_id, work.task_for(request.endpoint), kwargs={"job_id": job_id, "payload": payload})
    record = jobs.wait_for_terminal(job_id, max_wait(), just_created=True)
    return render_job(record), (200 if record["status"] in jobs.TERMINAL else 202)


def max_wait() -> float:
    raw = request.args.get("wait", "0")
    try:
        wait = float(raw)
        if math.isnan(wait):
            raise ValueError(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid-parameter", f"wait={raw!r} is not a number of seconds") from exc
    if wait < 0:
        raise ApiError(400, "invalid-parameter", "wait must be >= 0")
    return min(wait, context.settings().MAX_WAIT_S)
