"""Rendering of job records for clients."""

from __future__ import annotations

from flask import url_for


def render_job(record: dict) -> dict:
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
        "status_url": url_for("jobs.get_job", job_id=record["id"], _external=False),
    }
    for field in ("started_at", "finished_at", "worker", "plan", "note"):
        if record.get(field):
            body[field] = record[field]
    if record["status"] == "succeeded":
        body["result"] = job_result(record)
    if record["status"] == "failed":
        body["error"] = record.get("error")
    return body


def job_result(record: dict) -> dict:
    """A succeeded job's result with the model and timings beside it, as every endpoint shows it."""
    return {**(record.get("result") or {}), "model": record.get("model"), "timings": record.get("timings")}
