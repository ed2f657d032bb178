"""A job record as clients see it: the body of GET /v1/jobs/<id>, and of the job-completion
webhook, which a worker renders with the same function (no Flask here: `app.renderers` passes the
status URL that `url_for` builds, a worker the plain path)."""

from __future__ import annotations


def status_path(job_id: str) -> str:
    """The job's status URL without a proxy prefix (what `url_for` gives when there is none)."""
    return f"/v1/jobs/{job_id}"


def render(record: dict, status_url: str | None = None) -> dict:
    progress = record.get("progress") or {}
    total = progress.get("total") or 0
    body = {
        "job_id": record["id"],
        "kind": record.get("kind"),
        "mode": record.get("mode"),
        "status": record["status"],
        "progress": {**progress, "percent": round(100.0 * progress.get("done", 0) / total, 1) if total else 0.0},
        "created_at": record.get("created_at"),
        "updated_at": record.get("updated_at"),
        "status_url": status_url or status_path(record["id"]),
    }
    for field in ("started_at", "finished_at", "worker", "plan", "note"):
        if record.get(field):
            body[field] = record[field]
    if record["status"] == "succeeded":
        body["result"] = result(record)
    if record["status"] == "failed":
        body["error"] = record.get("error")
    return body


def result(record: dict) -> dict:
    """A succeeded job's result with the model and timings beside it, as every endpoint shows it."""
    body = dict(record.get("result") or {})
    for field in ("model", "timings"):  # absent, not null, for a job without them (echo): OpenAPI says object
        if record.get(field) is not None:
            body[field] = record[field]
    return body
