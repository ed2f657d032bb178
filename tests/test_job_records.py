"""Job records against the session's real Redis: every job gets a deadline that the watchdog
enforces, and a succeeded job shows all of its progress."""

from __future__ import annotations

import pytest

from brigade import attempts, deadlines, jobs
from brigade.redis_client import key, redis_client
from brigade.settings import get_settings


@pytest.fixture
def job_id(redis_server):
    job_id = jobs.create_job("echo", "single")
    yield job_id
    deadlines.clear_deadline(job_id)


def _deadline(job_id: str) -> float | None:
    return redis_client().zscore(key("deadlines"), job_id)


def test_every_new_job_has_a_deadline_of_job_timeout_s(job_id):
    created = jobs.get_job(job_id)["created_at"]
    assert _deadline(job_id) == pytest.approx(created + get_settings().JOB_TIMEOUT_S, abs=1e-3)


def test_the_watchdog_fails_a_job_still_queued_past_its_deadline_and_only_then(job_id):
    deadline = _deadline(job_id)
    assert job_id not in deadlines.fail_overdue_jobs(now=deadline - 1)
    assert jobs.get_job(job_id)["status"] == jobs.QUEUED
    assert job_id in deadlines.fail_overdue_jobs(now=deadline + 1)
    record = jobs.get_job(job_id)
    assert record["status"] == jobs.FAILED and record["error"]["type"] == "timed-out"
    assert "still queued" in record["error"]["detail"]
    assert _deadline(job_id) is None and jobs.is_terminal(job_id)


def test_a_job_that_ends_leaves_the_watchdog_alone(job_id):
    jobs.succeed(job_id, {"echo": 1})
    assert _deadline(job_id) is None
    long_after = jobs.get_job(job_id)["created_at"] + 10 * get_settings().JOB_TIMEOUT_S
    assert job_id not in deadlines.fail_overdue_jobs(now=long_after)
    assert jobs.get_job(job_id)["status"] == jobs.SUCCEEDED


def test_a_succeeded_job_shows_all_of_its_progress(job_id):
    jobs.set_progress(job_id, 48, 55.1, "video-seconds")  # the last report came before the end
    assert jobs.get_job(job_id)["progress"]["done"] == 48
    jobs.succeed(job_id, {"tags": []})
    assert jobs.get_job(job_id)["progress"] == {"done": 55.1, "total": 55.1, "unit": "video-seconds"}


def test_a_failed_job_keeps_the_progress_it_reached(job_id):
    jobs.set_progress(job_id, 48, 55.1, "video-seconds")
    jobs.fail(job_id, {"type": "decode-failed", "detail": "truncated"})
    assert jobs.get_job(job_id)["progress"]["done"] == 48


def test_a_message_started_more_than_max_task_attempts_times_fails_its_job_as_poison(job_id):
    """Each start of a message counts (`begin_attempt`); a worker that dies mid-task leaves its
    count behind and the message comes back. Three deaths counted, the fourth start refuses to run
    it and fails the job, instead of handing the input to a fourth worker."""
    from tasks.base import delivery_id
    from tasks.ops import echo

    task_id = "poison-" + job_id
    limit = get_settings().MAX_TASK_ATTEMPTS
    for run in range(1, limit + 1):  # what `limit` starts that each ended their worker leave behind
        assert attempts.begin_attempt(job_id, f"{task_id}:0") == (False, run)
    assert echo.apply(kwargs={"job_id": job_id, "payload": 1}, task_id=task_id).get() == {"job_id": job_id, "skipped": "poison"}
    record = jobs.get_job(job_id)
    assert record["status"] == jobs.FAILED and record["error"]["type"] == "poison"
    assert f"{limit} times" in record["error"]["detail"]
    assert delivery_id(type("Request", (), {"id": task_id, "retries": None})(), "x") == f"{task_id}:0"


def test_a_message_within_its_attempts_runs(job_id):
    from tasks.ops import echo

    attempts.begin_attempt(job_id, f"once-{job_id}:0")  # one earlier start that died
    assert echo.apply(kwargs={"job_id": job_id, "payload": 7}, task_id=f"once-{job_id}").get() == 7  # it ran
    assert jobs.get_job(job_id)["status"] == jobs.SUCCEEDED
