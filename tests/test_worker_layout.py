"""The worker runtime is a package of its own (worker/), tasks/ holds the task adapters, and the
imports go one way: tasks/ may import worker/; worker/ reaches a task module only by the names
the table of work writes down (Celery's `include`, `work.TASK_HOOKS`, `work.WEBHOOK_DELIVERY`);
brigade/, media/ and models/ import neither; the API imports the worker's app, queues and table,
never its life cycle. And the life cycle's bootsteps start in the order worker/steps.py says."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
from celery import Celery

from devtools.imports import imported, modules
from worker import hooks, queues, steps, work

pytestmark = pytest.mark.unit  # its layer (tests/conftest.py): source only, and one `python -c`

#: What the API may load of worker/: the Celery app it sends with, queue names, the table of work.
API_SIDE_OF_WORKER = {"worker", "worker.celery_app", "worker.queues", "worker.work"}
#: Modules of tasks/ that are not a task module of the table: what the adapters share.
ADAPTER_SUPPORT = {"tasks", "tasks.base", "tasks.planner"}


def _importing(packages: tuple[str, ...], prefixes: tuple[str, ...]) -> dict[str, list[str]]:
    found = {name: sorted(dep for dep in imported(path, name) if dep.split(".")[0] in prefixes)
             for name, path in modules(*packages).items()}
    return {name: deps for name, deps in found.items() if deps}


def test_the_worker_runtime_imports_no_task_module():
    offenders = _importing(("worker",), ("tasks",))
    assert not offenders, f"worker/ names task modules as strings (the table of work), never imports them: {offenders}"


def test_the_shared_packages_import_neither_the_worker_nor_the_tasks():
    offenders = _importing(("brigade", "media", "models"), ("worker", "tasks"))
    assert not offenders, f"brigade/, media/ and models/ are below worker/ and tasks/: {offenders}"


def test_tasks_holds_the_task_adapters_only():
    task_modules = {w.module for w in work.TABLE}
    assert set(modules("tasks")) - task_modules == ADAPTER_SUPPORT
    assert task_modules <= set(modules("tasks"))


def test_the_api_imports_only_the_worker_side_it_sends_with():
    found = {name: sorted(dep for dep in imported(path, name) if dep.split(".")[0] == "worker"
                          and dep not in API_SIDE_OF_WORKER and dep.rpartition(".")[0] not in API_SIDE_OF_WORKER - {"worker"})
             for name, path in modules("app").items()}
    assert not {name: deps for name, deps in found.items() if deps}
    code = ("import sys; from app import create_app; create_app(); "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in ('worker', 'tasks'))))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert loaded <= API_SIDE_OF_WORKER, f"the API loads the worker's life cycle or a task module: {loaded - API_SIDE_OF_WORKER}"


def test_the_names_the_table_gives_the_worker_resolve():
    for signal, handler in work.TASK_HOOKS:
        assert signal in {"worker_init", "worker_process_init", "worker_ready"}
        assert callable(hooks.task_hook(handler))
    assert work.WEBHOOK_DELIVERY in {w.task for w in work.TABLE}


def test_the_consumer_steps_start_in_their_order():
    app = Celery("layout-check")
    steps.register(app)
    assert set(steps.CONSUMER_STEPS) <= app.steps["consumer"]
    from celery.worker.consumer import Consumer

    blueprint = Consumer.Blueprint(steps=app.steps["consumer"])
    blueprint.steps = blueprint.claim_steps()  # what Blueprint.apply does first
    order = [step.name for step in blueprint._finalize_steps(blueprint.steps)]
    ours = [step.name for step in steps.CONSUMER_STEPS]
    assert [name for name in order if name in ours] == ours
    at = order.index
    assert at("celery.worker.consumer.tasks.Tasks") < at(ours[0])
    assert at("celery.worker.consumer.control.Control") < at(ours[-1]) < at("celery.worker.consumer.consumer.Evloop")


def test_a_control_worker_also_consumes_the_legacy_queue_and_others_do_not():
    from worker.celery_app import create_celery

    for command_line, consumed in (([queues.CONTROL], {queues.CONTROL, queues.LEGACY_MERGE}),
                                   ([queues.PREDICT], {queues.PREDICT}),
                                   ([queues.LEGACY_MERGE, queues.CONTROL], {queues.CONTROL, queues.LEGACY_MERGE})):
        app = create_celery()
        app.amqp.queues.select(command_line)  # what `-Q` does
        hooks.drain_legacy_queues(sender="w@h", instance=SimpleNamespace(app=app))
        assert set(app.amqp.queues.consume_from) == consumed
    assert queues.LEGACY_MERGE in queues.declared(0) and queues.LEGACY_MERGE not in queues.ALL
