"""POST /v1/hotel-prices: the event-driven pattern's endpoint.

Validate (no job for a bad request), create a job, enqueue `tasks.events.predict_prices` on the
`events` queue with the caller's tier as message priority, then wait up to HOTEL_SYNC_WAIT_S for
the answer: 200 with the hotels when it comes in time, else 202 with the job to poll
(`GET /v1/jobs/<id>`), whose result holds the same hotels once it succeeds.
"""

from __future__ import annotations

from flask import Blueprint, request, url_for

from app import context
from app.dispatch import enqueue
from app.errors import ApiError
from app.hotel_validation import read_json_body, validate
from app.tiers import identify, priority_for
from app.views import job_result
from brigade import jobs
from tasks import work

bp = Blueprint("hotels", __name__)


@bp.post("/v1/hotel-prices")
def submit_hotel_prices():
    s = context.settings()
    stay = validate(read_json_body(request))
    caller = identify()
    priority = priority_for(caller.tier, s.broker_url)
    message = stay.message()
    job_id = jobs.create_job("hotel-prices", "event", input={**message, "tier": caller.tier})
    enqueue(job_id, work.task_for(request.endpoint), priority=priority,
            kwargs={"job_id": job_id, "request": message, "tier": caller.tier, "priority": priority})
    record = jobs.wait_for_terminal(job_id, s.HOTEL_SYNC_WAIT_S, just_created=True)
    status_url = url_for("jobs.get_job", job_id=job_id)
    if record and record["status"] == jobs.SUCCEEDED:
        return {"job_id": job_id, "status": record["status"], "tier": caller.tier, **job_result(record)}, 200
    if record and record["status"] == jobs.FAILED:
        error = record.get("error") or {}
        raise ApiError(500, "prediction-failed", error.get("detail") or "the pricing task failed",
                       job_id=job_id, status_url=status_url)
    return ({"job_id": job_id, "status": record["status"] if record else jobs.QUEUED, "tier": caller.tier,
             "status_url": status_url}, 202, {"Location": status_url})
