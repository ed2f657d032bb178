"""Slow clients against the real API under gunicorn: 64 clients holding `?wait=` long-polls on a
job that will not end do not take every request thread, so the liveness probe still gets one."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from brigade import jobs

HOLDERS = 64  # the session API has 2 processes x 16 threads: without a cap, all of them held
WAIT_S = 15


def test_long_polls_cannot_starve_the_liveness_probe(api):
    job_id = jobs.create_job("echo", "single")  # never sent: it stays queued

    def hold(_):
        response = requests.get(f"{api}/v1/jobs/{job_id}", params={"wait": WAIT_S}, timeout=120)
        return response, time.monotonic()

    with ThreadPoolExecutor(HOLDERS) as pool:
        began = time.monotonic()
        held = [pool.submit(hold, i) for i in range(HOLDERS)]
        time.sleep(1)  # let them reach the API first
        probe = requests.get(f"{api}/healthz", timeout=120)
        probed = time.monotonic()
        answers = [f.result() for f in held]
    assert probe.status_code == 200
    assert all(r.status_code == 200 and r.json()["status"] == "queued" for r, _ in answers)
    # Ordering, not speed: the requests the API really held end WAIT_S after they began. Had they
    # taken every thread, the probe could only have been answered once one of them ended.
    held_until = [end for _, end in answers if end - began >= WAIT_S - 1]
    assert held_until, "no request was held at all"
    assert probed < min(held_until)
    assert len(held_until) < HOLDERS  # the rest were answered at once, not queued behind them
