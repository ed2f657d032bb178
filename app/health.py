"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint

from app.dispatch import broker_answers
from app.operator import is_operator
from brigade.heartbeats import list_replicas
from worker import work

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Liveness only: the API process answers. Restart it if this fails; never depends on Redis."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Ready when the broker answers and each queue the table of work marks for readiness
    (`worker.work.readiness_queues()`: predict) has a ready replica; the operator (app/operator.py)
    also gets the broker's state and those replicas' heartbeats."""
    broker = broker_answers()
    wanted = work.readiness_queues()
    replicas = _replicas_of(wanted)
    ready = [r for r in replicas if r.get("ready")]
    serving = broker and all(any(queue in r.get("queues", []) for r in ready) for queue in wanted)
    body = {"status": "ready" if serving else "unavailable"}
    if is_operator():  # hosts, pids and error text describe the deployment: the operator's, not the world's
        body.update({
            "broker": "ok" if broker else "unreachable",
            "replicas": [
                {k: r.get(k) for k in ("hostname", "process", "queues", "model", "device", "ready", "error")} for r in replicas
            ],
            "ready_replicas": len(ready),
        })
    return body, (200 if serving else 503)


def _replicas_of(wanted: tuple[str, ...]) -> list[dict]:
    """The live replicas consuming any of `wanted`; none when Redis does not answer (not ready, not a 500)."""
    try:
        replicas = list_replicas()
    except Exception:
        return []
    return [r for r in replicas if set(wanted) & set(r.get("queues", []))]
