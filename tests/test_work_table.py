"""The table of work (worker/work.py) is the one place that says which tasks exist, where they go
and who sends them: the Celery app, the worker's imports, the API's endpoints and its rate limits
must agree with it."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import pytest

from brigade.settings import ROOT
from worker import queues, work


def test_the_worker_registers_exactly_the_tasks_of_the_table():
    from worker.celery_app import TASK_MODULES, app

    for module in TASK_MODULES:
        importlib.import_module(module)
    ours = {name for name in app.tasks if name.startswith("tasks.")}
    assert ours == {w.task for w in work.TABLE}
    assert TASK_MODULES[-1] == work.WORKER_ENTRY


def test_each_task_is_routed_to_its_declared_queue():
    from worker.celery_app import app

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
    assert work.models_for(queues.CONTROL) == []


def test_the_openapi_spec_marks_the_rate_limited_paths_of_the_table(redis_server):
    from app import create_app
    from app.openapi import RATE_LIMITED_PATHS, SPEC

    flask_app = create_app()
    paths = {rule.endpoint: rule.rule for rule in flask_app.url_map.iter_rules()}
    assert RATE_LIMITED_PATHS == {paths[endpoint] for endpoint in work.rate_limited_endpoints()}
    for path in RATE_LIMITED_PATHS:
        assert SPEC["paths"][path]["post"]["x-rate-limited"] is True
        assert "429" in SPEC["paths"][path]["post"]["responses"]


# --- pools: the worker command lines and readiness derive from them ------------------------------------


def test_every_queue_has_one_declared_pool():
    assert sorted(pool.queue for pool in work.POOLS) == sorted(queues.ALL)
    assert {pool.kind for pool in work.POOLS} <= {work.PREFORK, work.SOLO, work.THREADS}
    assert {entry.queue for entry in work.TABLE} <= {pool.queue for pool in work.POOLS}
    assert work.readiness_queues() == (queues.PREDICT,)
    assert work.pool_for(queues.shard_queue(3)) == work.pool_for(queues.SEGMENTS)
    assert work.pool_for("predict,control").queue == queues.PREDICT
    with pytest.raises(KeyError):
        work.pool_for("no-such-queue")


def _pool_options(argv: list[str]) -> tuple[str, dict[str, str]]:
    """(the -Q of a worker's argv, its `--pool`, `--concurrency` and `--autoscale` values)."""
    options = dict(arg.split("=", 1) for arg in argv if arg.startswith("--") and "=" in arg)
    return argv[argv.index("-Q") + 1], {k: v for k, v in options.items() if k in ("--pool", "--concurrency", "--autoscale")}


def _declared_options(pool: work.Pool) -> dict[str, str]:
    from brigade.settings import get_settings

    options = {"--pool": pool.kind}
    if pool.autoscaled:
        options["--autoscale"] = f"{get_settings().EVENTS_MAX},{get_settings().EVENTS_MIN}"
    elif pool.kind != work.SOLO:
        options["--concurrency"] = str(pool.concurrency)
    return options


def test_worker_command_lines_run_the_declared_pools():
    from devtools import procs, run_stack

    for pool in work.POOLS:
        assert _pool_options(procs.worker_command(pool.queue, "w@h")) == (pool.queue, _declared_options(pool)), pool
    assert procs.worker_command(queues.EVENTS, "events@h") == procs.events_worker_command("events@h")
    started = [cmd for _, cmd in run_stack.processes(False, replicas=2, shards=2) if "-Q" in cmd]
    assert len(started) == 6
    for cmd in started:
        queue, options = _pool_options(cmd)
        assert options == _declared_options(work.pool_for(queue)), cmd
    # A caller's own pool and size still win (a test's one-slot worker, a benchmark's fixed pool).
    assert _pool_options(procs.worker_command(queues.CONTROL, "w@h", pool="threads", concurrency=1))[1] == {
        "--pool": "threads", "--concurrency": "1"}
    assert _pool_options(procs.worker_command(queues.EVENTS, "w@h", concurrency=3))[1] == {
        "--pool": "prefork", "--concurrency": "3"}


def _heartbeat(process: str, queue: str) -> None:
    from brigade import heartbeats

    heartbeats.publish(process, {"hostname": process.split(":")[0], "pid": os.getpid(), "process": process,
                                 "queues": [queue], "model": None, "device": "cpu", "ready": True})


def test_readiness_waits_for_each_queue_the_pools_mark(client, monkeypatch):
    from brigade import heartbeats

    extra = work.Pool("readiness-probe", work.SOLO, readiness=True)
    monkeypatch.setattr(work, "POOLS", (*work.POOLS, extra))
    processes = [f"work-table-{queue}@test:{os.getpid()}" for queue in (queues.PREDICT, extra.queue)]
    try:
        _heartbeat(processes[0], queues.PREDICT)
        assert client.get("/readyz").status_code == 503, "a marked queue has no ready replica"
        _heartbeat(processes[1], extra.queue)
        assert client.get("/readyz").status_code == 200
    finally:
        for process in processes:
            heartbeats.remove(process)


# --- OpenAPI: the work endpoints' operations are named by the rows ----------------------------------------


def test_each_work_endpoint_names_the_operation_that_documents_it(redis_server):
    from app import create_app
    from app.openapi import WORK_OPERATIONS

    rules = {rule.endpoint: rule for rule in create_app().url_map.iter_rules()}
    for entry in work.TABLE:
        if not entry.endpoint:
            assert entry.openapi is None, entry.task
            continue
        assert entry.openapi in WORK_OPERATIONS, f"{entry.task}: endpoint {entry.endpoint} names no OpenAPI operation"
        method, path = entry.openapi.split(" ", 1)
        assert rules[entry.endpoint].rule == path and method in rules[entry.endpoint].methods, entry.task


def test_the_spec_documents_no_work_the_table_does_not_declare():
    """Every POST of this API sends work: each is a row's operation, and every builder is used."""
    from app.openapi import SPEC, WORK_OPERATIONS

    posted = {f"POST {path}" for path, operations in SPEC["paths"].items() if "post" in operations}
    assert posted == set(work.openapi_operations()) == set(WORK_OPERATIONS)


def test_a_row_whose_endpoint_names_no_operation_is_refused():
    from app.openapi import work_paths

    assert set(work_paths()) == {"/v1/videos", "/v1/hotel-prices", "/v1/echo"}
    unnamed = work.Work("tasks.ops.echo", queues.PREDICT, (), "jobs.echo")
    with pytest.raises(ValueError, match="tasks.ops.echo"):
        work_paths((*work.TABLE, unnamed))


# --- frame models: one row in brigade/features.py names each ---------------------------------------------

#: The serving path: none of it may name a frame model but its row (brigade/features.py).
SERVING_SOURCES = ("app", "brigade", "tasks", "worker", "models/registry.py", "models/service.py", "devtools/run_stack.py")


def test_a_frame_model_is_named_by_its_row_alone():
    from brigade import features
    from models import registry
    from worker import warmup

    rows = features.FRAME_MODEL_ROWS
    assert features.FEATURES == (features.LABELS, *(row.feature for row in rows))
    assert work.FRAME_MODELS == tuple(row.model for row in rows)
    assert all(registry.LOADERS[row.model] == row.loader for row in rows)
    assert set(work.FRAME_MODELS) <= set(warmup.LOADERS)
    names = {row.model for row in rows} | {row.loader.partition(":")[0] for row in rows}
    for path in _sources(SERVING_SOURCES):
        if path != ROOT / "brigade" / "features.py":
            text = path.read_text()
            assert not [name for name in names if name in text], f"{path.relative_to(ROOT)} names a frame model"


def test_each_frame_model_row_names_a_loader_of_its_artifact_kind():
    from brigade import features

    store = ROOT / "models" / "store"
    for row in features.FRAME_MODEL_ROWS:
        version = (store / row.model / "DEFAULT").read_text().strip()
        assert json.loads((store / row.model / version / "manifest.json").read_text())["kind"] == row.model
        module, _, function = row.loader.partition(":")
        assert callable(getattr(importlib.import_module(module), function)), row.loader


def _sources(roots) -> list[Path]:
    return [path for root in roots for path in ([ROOT / root] if root.endswith(".py") else (ROOT / root).rglob("*.py"))]
