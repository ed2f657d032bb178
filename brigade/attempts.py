"""The starts of each task message, counted, so that a poison message is refused.

A message whose every run kills its worker (an OOM, a decoder crash) comes back each time
(task_reject_on_worker_lost, or the reaper); `tasks/base.py` refuses it after MAX_TASK_ATTEMPTS
starts instead of killing workers forever.
"""

from __future__ import annotations

from brigade import job_keys
from brigade.jobs import TERMINAL
from brigade.redis_client import redis_client
from brigade.settings import get_settings


def begin_attempt(job_id: str, task_id: str) -> tuple[bool, int]:
    """Before a task of `job_id` runs: (has the job already ended, how many times this message has
    now been started). One round trip."""
    attempts_key = job_keys.attempts(task_id)
    pipe = redis_client().pipeline(transaction=False)
    pipe.hget(job_keys.record(job_id), "status")
    pipe.incr(attempts_key)
    pipe.expire(attempts_key, int(get_settings().RESULT_EXPIRES_S))
    status, attempts, _ = pipe.execute()
    return status in TERMINAL, int(attempts)
