"""Upgrade safety of the `merge` -> `control` rename: a message already in the legacy `merge` queue
at the upgrade still runs, on a worker of `control` (worker/queues.py LEGACY_DRAINS, drained and
removable after one release, with this module; the unit check of the worker's queue list is in
tests/test_worker_layout.py)."""

from __future__ import annotations

import pytest

from tests.stack import CONTROL
from worker import queues

pytestmark = pytest.mark.integration


def test_a_task_left_in_the_legacy_merge_queue_runs_on_the_control_worker(workers):
    from worker.celery_app import app

    control = workers.one(CONTROL)
    result = app.send_task("tasks.ops.noop", args=[42], queue=queues.LEGACY_MERGE)  # as an old API sent it
    assert result.get(timeout=60) == 42
    assert result.worker == control.name
