"""Job deadlines and the watchdog that fails the jobs which outlive them.

Every job gets a deadline at creation (JOB_TIMEOUT_S, `brigade.jobs.create_job`); planning a
sharded job resets it to SHARDED_JOB_TIMEOUT_S; a terminal update removes it
(`brigade.jobs.update_job`). The set of deadlines is therefore also the set of open jobs.
"""

from __future__ import annotations

import time

from brigade import job_keys, jobs
from brigade.redis_client import redis_client


def set_deadline(job_id: str, seconds: float) -> None:
    redis_client().zadd(job_keys.deadlines(), {job_id: time.time() + seconds})


def clear_deadline(job_id: str) -> None:
    redis_client().zrem(job_keys.deadlines(), job_id)


def expired_deadlines(now: float | None = None) -> list[str]:
    return redis_client().zrangebyscore(job_keys.deadlines(), 0, now or time.time())


def open_job_count() -> int:
    """Jobs that have not ended: each has a deadline until its terminal update."""
    return redis_client().zcard(job_keys.deadlines())


def queued_jobs() -> list[str]:
    """Jobs whose status is `queued` (looked up among those with a deadline: every open job)."""
    ids = redis_client().zrange(job_keys.deadlines(), 0, -1)
    pipe = redis_client().pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(job_keys.record(job_id), "status")
    return [job_id for job_id, status in zip(ids, pipe.execute()) if status == jobs.QUEUED]


def fail_overdue_jobs(now: float | None = None) -> list[str]:
    """The watchdog: a job past its deadline (a message nobody runs, a chord whose callback can no
    longer run) is failed with what is known, so no client waits forever. Returns the failed ids."""
    failed = []
    for job_id in expired_deadlines(now):
        record = jobs.get_job(job_id)
        if record and record["status"] not in jobs.TERMINAL:
            progress = record.get("progress") or {}
            jobs.fail(job_id, {"type": "timed-out", "detail": f"job did not finish before its deadline (still "
                               f"{record['status']}; {progress.get('done', 0)}/{progress.get('total', '?')} "
                               f"{progress.get('unit', '')} done)"})  # the terminal update clears the deadline
            failed.append(job_id)
        else:
            clear_deadline(job_id)
    return failed
