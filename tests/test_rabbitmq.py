"""The predict and sharded paths with RabbitMQ as the broker (BROKER_URL=amqp://...), job records and results
still on the test Redis. Runs when RabbitMQ answers on 127.0.0.1:5672 (CI starts one); skips
otherwise, saying why."""

from __future__ import annotations

import os

import pytest
import requests

from devtools import procs
from tests.stack import (
    AMQP_URL,
    Workers,
    WorkerSpec,
    backlog_then_premium,
    finished,
    premium_overtook,
    rabbitmq_answers,
    submit,
    tag_labels,
    wait_job,
)
from worker import queues

AMQP_ENV = {"BROKER_URL": AMQP_URL}


@pytest.fixture(scope="module")
def amqp_stack(stack):
    """A predict worker and an API that both use RabbitMQ as the broker; stopped after the module."""
    reason = rabbitmq_answers()
    if reason:
        pytest.skip(reason)
    from kombu import Connection

    # Messages left on the broker by an earlier run would name job records this Redis never had;
    # and `events` goes entirely, so that it is declared afresh with its x-max-priority (RabbitMQ
    # refuses to redeclare a queue with other arguments).
    with Connection(AMQP_URL) as conn:
        for queue in ("predict", "segments", "control"):
            try:
                conn.channel().queue_purge(queue)
            except conn.channel_errors:
                pass  # the queue does not exist yet
        conn.channel().queue_delete(queues.EVENTS)
        # ... and redeclared at once, exactly as the app declares it, so that reading its depth
        # never races the first publish that would otherwise create it.
        from worker.celery_app import app

        app.amqp.queues[queues.EVENTS](conn.channel()).declare()
    with Workers(stack) as ws:
        worker = ws.one(WorkerSpec("predict", prefix="amqp"), env=AMQP_ENV, ready=False)
        api = stack.start_api(env=AMQP_ENV)
        api_proc = stack.procs[-1]
        try:
            yield api, worker
        finally:
            procs.stop(api_proc)


def test_an_echo_job_goes_through_rabbitmq(amqp_stack):
    api, worker = amqp_stack
    response = requests.post(f"{api}/v1/echo", params={"wait": 30}, json={"payload": "via amqp"}, timeout=60)
    assert response.status_code in (200, 202), response.text  # 202: the worker was still warming up its models
    body = response.json()
    if body["status"] != "succeeded":  # no clock in the assertion: on a busy machine the warm-up takes longer
        body = wait_job(api, body["job_id"], timeout=300)
    assert body["status"] == "succeeded" and body["result"]["echo"] == "via amqp"
    # Only a consumer of the AMQP broker could have taken the message: the AMQP worker ran it.
    procs.wait_until(lambda: f"tasks.ops.echo[{body['job_id']}] succeeded" in worker.log_text(), 10,
                     what="the AMQP worker's log to show the task")


def test_a_clip_goes_through_rabbitmq(amqp_stack, stack, clips):
    from models.build.synth import Scene

    api, worker = amqp_stack
    stack.wait_ready(worker)
    scene = Scene(setting="park", lighting="day", objects=("ball", "person"), moving=True, duration_s=6.0, look=3)
    path, truth = clips.clip("amqp-park-ball-person", seed=31, scenes=[scene])
    response = submit(api, path)
    assert response.status_code == 202, response.text
    body = wait_job(api, response.json()["job_id"], timeout=90)
    assert body["status"] == "succeeded", body
    assert tag_labels(body) == set(truth.tags)
    assert body["worker"].startswith(worker.name + ":"), body["worker"]


def test_a_sharded_job_goes_through_rabbitmq(amqp_stack, workers, clips):
    """Planner, chord of segments and merge callback, all carried by RabbitMQ; results on Redis."""
    api, _ = amqp_stack
    _, shard = workers.start(WorkerSpec("control", pool="threads", prefix="amqp-control"),
                             WorkerSpec("segments", pool="solo", prefix="amqp-gpu"), env=AMQP_ENV)
    path, truth = clips.clip("amqp-sharded", seed=32, duration_s=45.0)
    response = submit(api, path, mode="sharded")
    assert response.status_code == 202, response.text
    body = wait_job(api, response.json()["job_id"], timeout=120)
    assert body["status"] == "succeeded", body
    segments = body["result"]["segments"]
    assert len(segments) >= 2
    assert {seg["worker"].split(":")[0] for seg in segments} == {shard.name}
    assert tag_labels(body) <= set(truth.tags) and tag_labels(body)


def test_on_rabbitmq_a_premium_request_overtakes_a_backlog_of_anonymous_ones(amqp_stack, workers):
    """The same as tests/test_events_pool.py's test on Redis: the `events` queue is declared with
    x-max-priority, so RabbitMQ serves the premium message (priority 9) before the anonymous ones (3)."""
    from brigade.settings import Settings
    from tests.test_events_pool import MAX, MIN, POOL_ENV, PREMIUM_KEYS
    from worker.autoscale import BrokerDepth
    from worker.celery_app import create_celery

    api, _ = amqp_stack
    depth = BrokerDepth(create_celery(Settings.from_env({**os.environ, **AMQP_ENV})), queues.EVENTS)
    responses = backlog_then_premium(api, depth.read, PREMIUM_KEYS[0], where=" on RabbitMQ")
    assert [r.status_code for r in responses] == [202] * 13, [r.text for r in responses]

    workers.events_pool("amqp-events", MAX, MIN, {**POOL_ENV, **AMQP_ENV})
    records = [finished(r.json()["job_id"]) for r in responses]
    premium_overtook(records, MAX)
