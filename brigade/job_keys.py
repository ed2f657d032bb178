"""The Redis keys of a job, in one place: the record and what lives beside it. Several modules
write them (records in `brigade.jobs`, `brigade.deadlines`, `brigade.attempts`, the webhook outbox
in `brigade.webhooks.outbox`), and a record's terminal update touches the record, the deadlines and
the outbox in one atomic step, so each of them names its keys here rather than in another's module.
"""

from __future__ import annotations

from brigade.redis_client import key


def record(job_id: str) -> str:
    """The job's hash (`brigade.jobs`)."""
    return key("job", job_id)


def records_prefix() -> str:
    """What every job's record key starts with: `record(id)` is this plus the id, and the keys
    beside a record (`segments_done`) add `:<name>` after it. For scans over all jobs."""
    return record("")


def events_channel(job_id: str) -> str:
    """Where the terminal update is published, for `?wait=` waiters."""
    return key("job-events", job_id)


def segments_done(job_id: str) -> str:
    """A sharded job's set of segments done."""
    return key("job", job_id, "segments-done")


def deadlines() -> str:
    """Every open job, scored by its deadline (`brigade.deadlines`)."""
    return key("deadlines")


def attempts(task_id: str) -> str:
    """How many times a message has been started (`brigade.attempts`)."""
    return key("attempts", task_id)


def webhook_outbox() -> str:
    """Jobs whose webhook is due, scored by when (`brigade.webhooks.outbox`)."""
    return key("webhook-outbox")


def job_stats() -> str:
    """Terminal statuses counted (the API's /metrics)."""
    return key("stats", "jobs")
