"""The table of work (tasks/work.py) is the one place that says which tasks exist, where they go
and who sends them: the Celery app, the worker's imports, the API's endpoints and its rate limits
must agree with it."""

from __future__ import annotations

import importlib

import pytest

from tasks import queues, work


def test_the_worker_registers_exactly_the_tasks_of_the_table():
    from tasks.celery_app import TASK_MODULES, app

    for module in TASK_MODULES:
        importlib.import_module(module)
    ours = {name for name in app.tasks if name.startswith("tasks.")}
    assert ours == {w.task for w in work.TABLE}
    assert TASK_MODULES[-1] == work.WORKER_ENTRY


def test_each_task_is_routed_to_its_declared_queue():
    from tasks.celery_app import app

    for entry in work.TABLE:
        assert entry.queue in queues.ALL
        assert app.amqp.router.route({}, entry.task)["queue"].name == entry.queue


def test_every_endpoint_in_the_table_exists_and_sends_its_task(redis_server):
    from app import create_app

    flask_app = create_app()
    endpoints = {rule.endpoint for rule in flask_app.url_map.iter_rules()}
    named = {w.endpoint for w in work.TABLE if w.endpoint}
    assert named <= endpoints
    assert work.task_for("videos.submit_video", "single") == "tasks.predict.tag_video"
    assert work.task_for("videos.submit_video", "sharded") == "tasks.sharded.plan_video"
    assert work.variants("videos.submit_video") == ("single", "sharded")
    with pytest.raises(KeyError):
        work.task_for("videos.submit_video", "tiled")


def test_the_rate_limited_endpoints_are_those_that_send_rate_limited_work():
    from app.limits import WORK_ENDPOINTS

    assert WORK_ENDPOINTS == {"videos.submit_video", "hotels.submit_hotel_prices", "jobs.echo"}


def test_replicas_load_the_model_their_queues_need():
    video_models = [work.TAGGER, "person-detector", "face-detector", "text-reader"]
    assert work.models_for(queues.PREDICT) == video_models
    assert work.models_for(queues.shard_queue(3)) == video_models
    assert work.models_for(queues.EVENTS) == [work.HOTEL_PRICER]
    assert work.models_for(queues.MERGE) == []


def test_the_openapi_spec_marks_the_rate_limited_paths_of_the_table(redis_server):
    from app import create_app
    from app.openapi import RATE_LIMITED_PATHS, SPEC

    flask_app = create_app()
    paths = {rule.endpoint: rule.rule for rule in flask_app.url_map.iter_rules()}
    assert RATE_LIMITED_PATHS == {paths[endpoint] for endpoint in work.rate_limited_endpoints()}
    for path in RATE_LIMITED_PATHS:
        assert SPEC["paths"][path]["post"]["x-rate-limited"] is True
        assert "429" in SPEC["paths"][path]["post"]["responses"]
