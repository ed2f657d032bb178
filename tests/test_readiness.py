"""/readyz follows real replicas: 503 with none, 200 once one is ready, 503 after it stops. (/healthz,
/openapi.json and /readyz against a written heartbeat: test_app_probes.py.)"""

from __future__ import annotations

import requests

from devtools import procs
from tests.stack import PREDICT


def _ready(api) -> tuple[int, dict]:
    response = requests.get(f"{api}/readyz", timeout=10)
    return response.status_code, response.json()


def test_readyz_follows_the_predict_replicas(api, workers):
    procs.wait_until(lambda: _ready(api)[0] == 503, 15, what="no ready replica left from earlier tests")
    status, body = _ready(api)
    assert body["broker"] == "ok" and body["ready_replicas"] == 0

    worker = workers.one(PREDICT)
    status, body = _ready(api)
    assert status == 200
    listed = [r for r in body["replicas"] if r["hostname"] == worker.name]
    assert listed and listed[0]["ready"] and listed[0]["model"] == "synth-tagger@1.0.0"
    assert listed[0]["device"] == "cpu"

    workers.stop(worker)  # warm shutdown removes the heartbeat at once
    status, body = _ready(api)
    assert status == 503
    assert all(r["hostname"] != worker.name for r in body["replicas"])
