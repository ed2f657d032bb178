"""Job records rendered as response bodies (no views here: the blueprints call these). A record
becomes `brigade.job_body`'s body (the one the webhook worker renders too) with the status URL
of this request's app, plus the delivery state of the job's webhook; `job_result` is a succeeded
job's result with its model and timings (the hotel endpoint's synchronous answer)."""

from __future__ import annotations

from flask import url_for

from brigade import job_body
from brigade.webhooks import delivery


def render_job(record: dict) -> dict:
    body = job_body.render(record, url_for("jobs.get_job", job_id=record["id"], _external=False))
    if record.get("webhook"):
        body["webhook"] = delivery.public_state(record["webhook"])
    return body


job_result = job_body.result
