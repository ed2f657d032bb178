"""Flower, started with the very command line and environment `make run` uses, against the test
Redis: with basic auth it lists a running predict worker and a finished task; without auth its API
answers 401 (and its /metrics answers anyway, which is why the deployment files keep Flower's port
private). The credentials reach it through FLOWER_BASIC_AUTH, never its command line."""

from __future__ import annotations

import secrets

import pytest
import requests

from devtools import procs
from tests.stack import Workers, WorkerSpec
from tests.test_make_run import command_lines

USER = "flower-test"


@pytest.fixture(scope="module")
def flower(stack):
    password = secrets.token_urlsafe(12)
    port = procs.free_port()
    proc = procs.spawn(procs.flower_command(port), env=procs.flower_env(USER, password),
                       log_path=stack.logs / f"flower-{port}.log")
    try:
        procs.wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}", (USER, password), proc.pid
    finally:
        procs.stop(proc)


@pytest.fixture(scope="module")
def predict_worker(stack):
    # The echo task needs no model, so the worker serves it whether or not its warm-up succeeds.
    with Workers(stack) as ws:
        yield ws.one(WorkerSpec("predict", prefix="flower"), ready=False)


def _poll(fetch, what: str, timeout: float = 30.0):
    return procs.wait_until(fetch, timeout, interval=0.5, what=what)


def test_flower_lists_the_worker_and_the_finished_task(api, flower, predict_worker):
    url, auth, _ = flower

    def _worker_listed():
        response = requests.get(f"{url}/api/workers", params={"refresh": 1}, auth=auth, timeout=15)
        return response.status_code == 200 and predict_worker.name in response.json()

    _poll(_worker_listed, f"Flower to list {predict_worker.name}")

    echo = requests.post(f"{api}/v1/echo", params={"wait": 10}, json={"payload": "seen by flower"}, timeout=30)
    assert echo.status_code == 200, echo.text
    job_id = echo.json()["job_id"]

    def _task_finished():
        tasks = requests.get(f"{url}/api/tasks", auth=auth, timeout=15).json()
        task = tasks.get(job_id)
        return task if task and task.get("state") == "SUCCESS" else None

    task = _poll(_task_finished, f"Flower to show task {job_id} succeeded")
    assert task["name"] == "tasks.ops.echo"
    assert task["worker"] == predict_worker.name


def test_flower_api_needs_the_password(flower):
    url, (user, password), _ = flower
    for path in ("/api/workers", "/api/tasks", "/"):
        assert requests.get(f"{url}{path}", timeout=10).status_code == 401, path
        assert requests.get(f"{url}{path}", auth=(user, password + "x"), timeout=10).status_code == 401, path
    assert requests.get(f"{url}/api/tasks", auth=(user, password), timeout=10).status_code == 200


def test_flower_metrics_are_open_even_with_basic_auth(flower):
    """Why docker-compose.yml binds Flower to 127.0.0.1 and k8s keeps it a ClusterIP Service."""
    url, _, _ = flower
    response = requests.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200 and "flower_" in response.text


def test_flower_password_is_in_no_command_line(flower):
    """`ps` shows every user's argv; the password is in Flower's environment (owner-only) instead."""
    url, (user, password), pid = flower
    lines = command_lines([pid])
    assert lines and any("flower" in line for line in lines.values()), lines
    assert not [line for line in lines.values() if password in line], "the Flower password is in a command line"
    assert requests.get(f"{url}/api/workers", timeout=10).status_code == 401
    assert requests.get(f"{url}/api/workers", auth=(user, password), timeout=10).status_code == 200
