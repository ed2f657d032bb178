"""Upload retention of the `local` backend: old uploads and abandoned temp files go, nothing else."""

from __future__ import annotations

import os
import time

import pytest

from brigade.retention import STALE_PART_S, sweep_uploads
from brigade.settings import Settings

DAY = 24 * 3600.0


def _file(path, age_s: float, now: float):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    os.utime(path, (now - age_s, now - age_s))
    return path


def test_old_uploads_and_abandoned_parts_go_fresh_and_foreign_files_stay(tmp_path):
    now = time.time()
    old = _file(tmp_path / f"{'a' * 64}.mp4", 8 * DAY, now)
    fresh = _file(tmp_path / f"{'b' * 64}.mp4", 1 * DAY, now)  # sent again yesterday: renamed over, mtime renewed
    foreign = _file(tmp_path / "notes.txt", 30 * DAY, now)
    stale_part = _file(tmp_path / ".incoming" / "tmp1.part", STALE_PART_S + 60, now)
    live_part = _file(tmp_path / ".incoming" / "tmp2.part", 5, now)  # an upload still streaming

    deleted = sweep_uploads(tmp_path, retention_s=7 * DAY, now=now)

    assert sorted(deleted) == sorted([old, stale_part])
    assert not old.exists() and not stale_part.exists()
    assert fresh.exists() and foreign.exists() and live_part.exists()


def test_retention_zero_keeps_every_upload(tmp_path):
    now = time.time()
    kept = _file(tmp_path / f"{'c' * 64}.mp4", 365 * DAY, now)
    assert sweep_uploads(tmp_path, retention_s=0, now=now) == [] and kept.exists()


def test_retention_shorter_than_job_records_is_refused():
    with pytest.raises(ValueError, match="UPLOAD_RETENTION_S must be 0 or at least RESULT_EXPIRES_S"):
        Settings(UPLOAD_RETENTION_S=3600, RESULT_EXPIRES_S=7 * 24 * 3600)
    assert Settings(UPLOAD_RETENTION_S=0).UPLOAD_RETENTION_S == 0
