"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint

from app.dispatch import broker_answers
from app.operator import is_operator
from brigade.heartbeats import list_replicas
from tasks import queues

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness only: the API process answers. Restart it if this fails; never depends on Redis."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Ready when the broker answers and at least one ready replica serves `predict`; the
    operator (app/operator.py) also gets the broker's state and every replica's heartbeat."""
    broker = broker_answers()
    try:
        replicas = list_replicas(queues.PREDICT)
    except Exception:
        replicas = []
    ready = [r for r in replicas if r.get("ready")]
    body = {"status": "ready" if broker and ready else "unavailable"}
    if is_operator():  # hosts, pids and error text describe the deployment: the operator's, not the world's
        body.update({
            "broker": "ok" if broker else "unreachable",
            "replicas": [
                {k: r.get(k) for k in ("hostname", "process", "queues", "model", "device", "ready", "error")} for r in replicas
            ],
            "ready_replicas": len(ready),
        })
    return body, (200 if broker and ready else 503)
