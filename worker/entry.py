"""The worker's entry: the last module a worker imports (`worker.work.WORKER_ENTRY`, in the Celery
app's `include`), before Celery builds the worker's blueprints. It makes this process's Redis
client ride out transient faults (brigade/redis_client.py), its consumer survive an ack that a
fault refused (worker/kombu_acks.py), registers the bootsteps of the main process
(worker/steps.py) and connects the signal hooks (worker/hooks.py). The API never imports it:
sending a task by name needs none of this.
"""

from __future__ import annotations

from brigade import redis_client
from worker import hooks, kombu_acks, steps
from worker.celery_app import app


def install() -> None:
    redis_client.be_patient()
    kombu_acks.install()
    steps.register(app)
    hooks.connect()


install()
