"""GET /v1/jobs/<id> renders a job record; `?wait=S` holds the request until it is terminal."""

from __future__ import annotations

import math
import re

from flask import Blueprint, request

from app import context, waits
from app.dispatch import submit
from app.errors import ApiError
from app.json_body import read_json_body
from app.renderers import render_job
from app.tiers import job_owner, may_read
from brigade import jobs
from worker import work

bp = Blueprint("jobs", __name__)
#: The echo body's limit: a probe of the whole path needs no more.
ECHO_MAX_BYTES = 4096
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


@bp.get("/v1/jobs/<job_id>")
def get_job(job_id: str):
    if not _JOB_ID.match(job_id):
        raise ApiError(404, "job-not-found", f"no job {job_id!r}: job ids are 32 hex characters")
    wait = max_wait()
    record = jobs.get_job(job_id)
    if record is None or not may_read(record):  # another key's job answers as an unknown one
        raise ApiError(404, "job-not-found", f"no job {job_id!r} (unknown, expired after RESULT_EXPIRES_S, "
                       "or submitted with another API key)")
    if wait > 0 and record["status"] not in jobs.TERMINAL:
        record = waits.wait_if_slot_free(job_id, wait, current=record) or record
    return render_job(record)


@bp.post("/v1/echo")
def echo():
    """A trivial job through the whole path (HTTP -> broker -> replica -> job record -> HTTP);
    the benchmark compares its round trip with a bare Celery round trip."""
    payload = echo_payload()
    job_id = jobs.new_job_id()
    submit("echo", "single", work.task_for(request.endpoint), {"job_id": job_id, "payload": payload}, job_id=job_id,
           owner=job_owner())
    record = waits.wait_if_slot_free(job_id, max_wait(), just_created=True)
    return render_job(record), (200 if record["status"] in jobs.TERMINAL else 202)


def echo_payload():
    """`payload` of the JSON object body (none without a body): small, since it travels through
    the broker, the job record and the result backend."""
    if not request.content_length and not request.mimetype:
        return None
    body = read_json_body(request, ECHO_MAX_BYTES)
    if not isinstance(body, dict):
        raise ApiError(422, "invalid-body", f"send a JSON object such as {{\"payload\": 1}}, not a {type(body).__name__}")
    unknown = sorted(set(body) - {"payload"})
    if unknown:
        raise ApiError(422, "unknown-field", f"unknown field(s): {', '.join(unknown)}; the body takes `payload` only")
    return body.get("payload")


def max_wait() -> float:
    raw = request.args.get("wait", "0")
    try:
        wait = float(raw)
        if not math.isfinite(wait):  # nan compares false with everything; inf is no number of seconds
            raise ValueError(raw)
    except ValueError as exc:
        raise ApiError(400, "invalid-parameter", f"wait={raw!r} is not a number of seconds") from exc
    if wait < 0:
        raise ApiError(400, "invalid-parameter", "wait must be >= 0")
    return min(wait, context.settings().MAX_WAIT_S)
