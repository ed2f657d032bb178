"""The predict and sharded paths with RabbitMQ as the broker (BROKER_URL=amqp://...), job records and results
still on the test Redis. Runs when RabbitMQ answers on 127.0.0.1:5672 (CI starts one); skips
otherwise, saying why."""

from __future__ import annotations

import os

import pytest
import requests

from devtools import procs
from tasks import queues
from tests.stack import AMQP_URL, backlog_then_premium, finished, premium_overtook, rabbitmq_answers, submit, tag_labels, wait_job

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
        for queue in ("predict", "segments", "merge"):
            try:
                conn.channel().queue_purge(queue)
            except conn.channel_errors:
                pass  # the queue does not exist yet
        conn.channel().queue_delete(queues.EVENTS)
        # ... and redeclared at once, exactly as the app declares it, so that reading its depth
        # never races the first publish that would otherwise create it.
        from tasks.celery_app import app

        app.amqp.queues[queues.EVENTS](conn.channel()).declare()
    worker = stack.start_worker("predict", env=AMQP_ENV, prefix="amqp", wait_ready=False)
    started = [worker.proc]
    try:
        api = stack.start_api(env=AMQP_ENV)
        started.append(stack.procs[-1])
        yield api, worker
    finally:
        for proc in reversed(started):
            procs.stop(proc)


def test_an_echo_job_goes_through_rabbitmq(amqp_stack):
    api, worker = amqp_stack
    response = requests.post(f"{api}/v1/echo", params={"wait": 30}, json={"payload": "via amqp"}, timeout=60)
    assert response.status_code == 200, response.text
    body = response.json()
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


def test_a_sharded_job_goes_through_rabbitmq(amqp_stack, stack, clips):
    """Planner, chord of segments and merge callback, all carried by RabbitMQ; results on Redis."""
    api, _ = amqp_stack
    control = stack.start_worker("merge", pool="threads", env=AMQP_ENV, prefix="amqp-control")
    shard = stack.start_worker("segments", pool="solo", env=AMQP_ENV, prefix="amqp-gpu")
    try:
        path, truth = clips.clip("amqp-sharded", seed=32, duration_s=45.0)
        response = submit(api, path, mode="sharded")
        assert response.status_code == 202, response.text
        body = wait_job(api, response.json()["job_id"], timeout=120)
        assert body["status"] == "succeeded", body
        segments = body["result"]["segments"]
        assert len(segments) >= 2
        assert {seg["worker"].split(":")[0] for seg in segments} == {shard.name}
        assert tag_labels(body) <= set(truth.tags) and tag_labels(body)
    finally:
        procs.stop(shard.proc)
        procs.stop(control.proc)


def test_on_rabbitmq_a_premium_request_overtakes_a_backlog_of_anonymous_ones(amqp_stack, stack):
    """The same as tests/test_events_pool.py's test on Redis: the `events` queue is declared with
    x-max-priority, so RabbitMQ serves the premium message (priority 9) before the anonymous ones (3)."""
    from brigade.settings import Settings
    from tasks.autoscale import BrokerDepth
    from tasks.celery_app import create_celery
    from tests.test_events_pool import MAX, MIN, POOL_ENV, PREMIUM_KEYS

    api, _ = amqp_stack
    depth = BrokerDepth(create_celery(Settings.from_env({**os.environ, **AMQP_ENV})), queues.EVENTS)
    responses = backlog_then_premium(api, depth.read, PREMIUM_KEYS[0], where=" on RabbitMQ")
    assert [r.status_code for r in responses] == [202] * 13, [r.text for r in responses]

    worker = procs.spawn(procs.events_worker_command(f"amqp-events@{os.uname().nodename}", MAX, MIN),
                         {**POOL_ENV, **AMQP_ENV}, stack.logs / "amqp-events.log")
    try:
        records = [finished(r.json()["job_id"]) for r in responses]
    finally:
        procs.stop(worker)
    premium_overtook(records, MAX)
