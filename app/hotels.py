"""POST /v1/hotel-prices: the event-driven pattern's endpoint.

Validate (no job for a bad request), create a job, enqueue `tasks.events.predict_prices` on the
`events` queue with the caller's tier as message priority (the task is sent the stay alone; the
tier stays in the job's input), then wait up to HOTEL_SYNC_WAIT_S for the answer: 200 with the
hotels when it comes in time, else 202 with the job to poll (`GET /v1/jobs/<id>`), whose result
holds the same hotels once it succeeds.
"""

from __future__ import annotations

from flask import Blueprint, request, url_for

from app import context, waits
from app.dispatch import submit
from app.errors import ApiError
from app.hotel_validation import read_json_body, validate
from app.renderers import job_result
from app.tiers import identify, job_owner, priority_for
from app.webhooks import requested_callback
from brigade import jobs
from models import registry
from models.hotel import catalog
from worker import work

bp = Blueprint("hotels", __name__)


@bp.post("/v1/hotel-prices")
def submit_hotel_prices():
    s = context.settings()
    stay = validate(read_json_body(request))
    caller = identify()
    callback = requested_callback()
    priority = priority_for(caller.tier, s.broker_url)
    message = stay.message()
    job_id = jobs.new_job_id()
    submit("hotel-prices", "event", work.task_for(request.endpoint),
           {"job_id": job_id, "request": message}, job_id=job_id,
           priority=priority, input={**message, "tier": caller.tier}, owner=job_owner(), **callback)
    record = waits.wait_if_slot_free(job_id, s.HOTEL_SYNC_WAIT_S, just_created=True)
    status_url = url_for("jobs.get_job", job_id=job_id)
    if record and record["status"] == jobs.SUCCEEDED:
        return {"job_id": job_id, "status": record["status"], "tier": caller.tier, **job_result(record)}, 200
    if record and record["status"] == jobs.FAILED:
        error = record.get("error") or {}
        raise ApiError(500, "prediction-failed", error.get("detail") or "the pricing task failed",
                       job_id=job_id, status_url=status_url)
    return ({"job_id": job_id, "status": record["status"] if record else jobs.QUEUED, "tier": caller.tier,
             "status_url": status_url}, 202, {"Location": status_url})


@bp.get("/v1/hotel-destinations")
def list_destinations():
    """The destinations POST /v1/hotel-prices accepts: those the served hotel model was trained on
    (its artifact's manifest, read as JSON: the API never loads the model, nor torch) that the
    catalog also knows, with their names, hotel counts and the limits of a stay."""
    try:
        manifest = registry.read_manifest(work.HOTEL_PRICER, context.settings().MODEL_STORE)
    except (registry.ModelError, OSError, ValueError) as exc:
        raise ApiError(503, "model-unavailable", f"the hotel model's artifact cannot be read: {exc}") from exc
    served = [slug for slug in manifest.get("destinations", []) if slug in catalog.DESTINATIONS]
    return {
        "model": {"name": manifest["name"], "version": manifest["version"]},
        "destinations": [{"slug": slug, "name": catalog.DESTINATIONS[slug].name,
                          "hotels": len(catalog.DESTINATIONS[slug].hotels)} for slug in served],
        "max_nights": catalog.MAX_NIGHTS,
        "max_guests": catalog.MAX_GUESTS,
    }
