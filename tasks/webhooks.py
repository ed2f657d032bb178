"""Deliver a job's completion webhook (brigade/webhooks/delivery.py), on the control queue: one attempt per
run, then Celery's retry with the backoff of the settings until delivered, refused or out of
attempts. Sent by the outbox chore (worker/chores.py), never by the API. Not a JobTask: the job
has ended by definition."""

from __future__ import annotations

from brigade.webhooks import delivery
from worker.celery_app import app


@app.task(name="tasks.webhooks.deliver", bind=True, max_retries=None)  # bounded by WEBHOOK_MAX_ATTEMPTS
def deliver(self, job_id: str) -> dict:
    attempt = delivery.attempt_delivery(job_id)
    if attempt.retry_in_s is not None:
        raise self.retry(countdown=attempt.retry_in_s)
    return {"job_id": job_id, "webhook": attempt.status}
