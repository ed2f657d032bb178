"""Slow clients against the real API under gunicorn: 64 clients holding `?wait=` long-polls on a
job that has not ended do not take every request thread, so the liveness probe still gets one.
What happened, in order, is read from the API's own record of the requests it holds (their
subscriptions in Redis), not from a clock."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from brigade import jobs
from brigade.redis_client import key, redis_client
from devtools import procs

HOLDERS = 64  # the session API has 2 processes x 16 threads: without a cap, all of them held
WAIT_S = 15


def _holding(job_id: str) -> int:
    """How many requests the API holds on the job now: its own record of them, the subscriptions to
    the job's terminal-update channel (`<prefix>:job-events:<id>`), one per held `?wait=`."""
    return dict(redis_client().pubsub_numsub(key("job-events", job_id)))[key("job-events", job_id)]


def test_long_polls_cannot_starve_the_liveness_probe(api):
    job_id = jobs.create_job("echo", "single")  # never sent: it stays queued until the test ends it

    def hold(_):
        return requests.get(f"{api}/v1/jobs/{job_id}", params={"wait": WAIT_S}, timeout=120)

    with ThreadPoolExecutor(HOLDERS) as pool:
        held = [pool.submit(hold, i) for i in range(HOLDERS)]
        # Every request has reached the API: it is either held there or already answered.
        procs.wait_until(lambda: _holding(job_id) + sum(f.done() for f in held) == HOLDERS, WAIT_S - 5,
                         interval=0.05, what="every long-poll held or answered")
        holding = _holding(job_id)
        probe = requests.get(f"{api}/healthz", timeout=120)
        # Ordering, not speed: the probe was answered while every held request still held its thread
        # (none has ended: they end when the job does, which happens only now). Had they taken every
        # thread, the probe could only have been answered once one of them had ended.
        still_holding = _holding(job_id)
        jobs.succeed(job_id, {"echo": "ended after the probe"})
        answers = [f.result() for f in held]
    assert probe.status_code == 200
    assert 0 < holding < HOLDERS, holding  # some were held; the rest were answered at once, not queued behind them
    assert still_holding == holding
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200]
    statuses = [r.json()["status"] for r in answers]
    # The held ones were answered by the job's end, after the probe; the others at once, with the job queued.
    assert statuses.count(jobs.SUCCEEDED) == holding and statuses.count("queued") == HOLDERS - holding, statuses
