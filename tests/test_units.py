"""Pure logic: settings parsing, upload hashing and limits, problem bodies, the API's imports."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys

import pytest

from brigade.settings import ROOT, Settings, describe
from brigade.uploads import HashingUpload, UploadTooLarge


def test_settings_parse_types_from_the_environment():
    s = Settings.from_env({"MAX_UPLOAD_BYTES": "1024", "HEARTBEAT_TTL_S": "2.5", "REDIS_URL": "redis://x:1/2"})
    assert s.MAX_UPLOAD_BYTES == 1024 and s.HEARTBEAT_TTL_S == 2.5
    assert s.broker_url == "redis://x:1/2" and s.result_backend == "redis://x:1/2"


def test_settings_reject_a_malformed_number():
    with pytest.raises(ValueError, match="MAX_UPLOAD_BYTES"):
        Settings.from_env({"MAX_UPLOAD_BYTES": "lots"})


def test_every_setting_is_documented():
    assert all(help_text for _, _, help_text in describe())


def test_hashing_upload_hashes_while_streaming_and_commits_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("UPLOAD_DIR", str(tmp_path))
    from brigade import settings

    settings.get_settings.cache_clear()
    try:
        data = b"video bytes" * 10000
        upload = HashingUpload(limit=len(data)).copy_from(io.BytesIO(data), chunk=4096)
        uri, path = upload.commit("MP4")
        assert upload.sha256 == hashlib.sha256(data).hexdigest()
        assert path == tmp_path / f"{upload.sha256}.mp4" and path.read_bytes() == data
        assert uri.startswith("file://")
        assert list((tmp_path / ".incoming").iterdir()) == []
    finally:
        settings.get_settings.cache_clear()


def test_hashing_upload_stops_past_its_limit_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("UPLOAD_DIR", str(tmp_path))
    from brigade import settings

    settings.get_settings.cache_clear()
    try:
        with pytest.raises(UploadTooLarge):
            HashingUpload(limit=1000).copy_from(io.BytesIO(b"x" * 5000), chunk=512)
        assert list((tmp_path / ".incoming").iterdir()) == []
    finally:
        settings.get_settings.cache_clear()


def test_the_api_never_imports_torch():
    code = "import sys; from app import create_app; create_app(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_readme_lists_every_setting_with_its_default():
    from devtools.settings_doc import readme_table, table

    assert readme_table() == table(), "run `python -m devtools.settings_doc --write`"


def test_settings_refuse_a_visibility_timeout_shorter_than_a_task():
    with pytest.raises(ValueError, match="VISIBILITY_TIMEOUT_S must exceed TASK_TIME_LIMIT_S"):
        Settings.from_env({"VISIBILITY_TIMEOUT_S": "60", "TASK_TIME_LIMIT_S": "600"})


def test_settings_refuse_results_that_expire_before_a_chord_ends():
    with pytest.raises(ValueError, match="RESULT_EXPIRES_S must outlive SHARDED_JOB_TIMEOUT_S"):
        Settings.from_env({"RESULT_EXPIRES_S": "100", "SHARDED_JOB_TIMEOUT_S": "1800"})


def test_releasing_the_free_heap_hands_fragmented_pages_back():
    """What a worker does after each video task: free holes pinned between live blocks go back."""
    code = """
from brigade.memory import release_free_heap
def rss_mb():
    return int(next(line for line in open('/proc/self/status') if line.startswith('VmRSS')).split()[1]) // 1024
blocks = [bytearray(b'x') * 65536 for _ in range(3000)]  # 190 MB in heap blocks under the mmap threshold
del blocks[::2]  # every other one freed: holes the others pin, so the heap cannot shrink from the top
before = rss_mb()
print(release_free_heap(), before, rss_mb())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    released, before, after = out[0] == "True", int(out[1]), int(out[2])
    assert released and before - after > 60, (before, after)


def test_only_segment_tasks_trim_the_heap():
    from tasks.predict import tag_video
    from tasks.sharded import merge_tags, tag_segment

    assert tag_segment.trims_memory  # long tasks, one after another on a shard worker
    assert not any(getattr(task, "trims_memory", False) for task in (tag_video, merge_tags))  # short ones


def test_an_ack_that_redis_refused_still_frees_the_prefetch_slot(monkeypatch):
    """kombu's Redis ack raised before it forgot the delivery: with a prefetch of one the worker never
    took another message (after a failover, worker/kombu_acks.py)."""
    from types import SimpleNamespace

    import redis
    from kombu.transport import redis as kombu_redis

    from worker import kombu_acks

    monkeypatch.setattr(kombu_redis.QoS, "ack", kombu_redis.QoS.ack)  # undone after the test
    kombu_acks.install()

    class Refused:
        def execute(self):
            raise redis.TimeoutError("timed out")

    qos = kombu_redis.QoS(channel=SimpleNamespace(do_restore=False), prefetch_count=1)  # nothing to restore at exit
    qos._remove_from_indices = lambda tag: Refused()
    qos._delivered["tag-1"] = object()
    assert not qos.can_consume()
    with pytest.raises(redis.TimeoutError):
        qos.ack("tag-1")
    assert qos.can_consume(), "the delivery no longer counts against the prefetch limit"
