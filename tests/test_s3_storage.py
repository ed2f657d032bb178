"""Uploads on S3-compatible storage (STORAGE_BACKEND=s3), against a real local S3 server: moto's
(`moto[server]`, requirements-dev.txt), started here on a free port of 127.0.0.1 and stopped at the
end. The end-to-end test runs an API and a predict worker that share no upload directory."""

from __future__ import annotations

import hashlib
import io
import os
import sys

import pytest

from brigade import jobs, settings
from brigade.storage import StorageError, local_path
from brigade.uploads import HashingUpload
from devtools import procs
from models.build.synth import Scene
from tests.stack import PREDICT, submit, tag_labels, wait_job

AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
BUCKET, PREFIX = "brigade-test", "uploads/"


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="module")
def s3_endpoint(tmp_root):
    port = procs.free_port()
    proc = procs.spawn([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], AWS_ENV,
                       tmp_root / "moto.log")
    try:
        procs.wait_for_port(port, timeout=30)
        endpoint = f"http://127.0.0.1:{port}"
        s3_client(endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        procs.stop(proc)


def s3_env(endpoint: str) -> dict[str, str]:
    return {**AWS_ENV, "STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET, "S3_PREFIX": PREFIX, "S3_ENDPOINT_URL": endpoint,
            "S3_REGION": "us-east-1"}


@pytest.fixture
def s3(s3_endpoint, tmp_path, monkeypatch):
    """This process configured like an API and a worker of the s3 backend; yields a client and the dirs."""
    dirs = {"UPLOAD_DIR": tmp_path / "uploads", "WORKER_CACHE_DIR": tmp_path / "cache"}
    for name, value in {**s3_env(s3_endpoint), **dirs}.items():
        monkeypatch.setenv(name, str(value))
    settings.get_settings.cache_clear()
    yield s3_client(s3_endpoint), dirs["UPLOAD_DIR"], dirs["WORKER_CACHE_DIR"]
    settings.get_settings.cache_clear()


def _commit(data: bytes, extension: str = "mp4") -> tuple[str, str]:
    upload = HashingUpload(limit=len(data)).copy_from(io.BytesIO(data), chunk=1 << 16)
    uri, path = upload.commit(extension)
    assert path is None and not upload.path.exists()
    return uri, upload.sha256


def _files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_commit_uploads_to_the_content_address_once_and_keeps_no_local_copy(s3):
    client, upload_dir, _ = s3
    data = os.urandom(9 * 1024 * 1024)  # above boto3's 8 MiB multipart threshold
    uri, sha = _commit(data, "MP4")
    key = f"{PREFIX}{sha}.mp4"
    assert sha == hashlib.sha256(data).hexdigest()
    assert uri == f"s3://{BUCKET}/{key}"
    assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
    assert client.head_object(Bucket=BUCKET, Key=key)["ETag"].endswith('-2"'), "uploaded in 2 parts"
    assert _files(upload_dir) == []

    # The same bytes again: the object exists, so nothing is uploaded (the marker survives).
    client.put_object(Bucket=BUCKET, Key=key, Body=data, Metadata={"marker": "first"})
    assert _commit(data, "mp4") == (uri, sha)
    assert client.head_object(Bucket=BUCKET, Key=key)["Metadata"] == {"marker": "first"}
    assert _files(upload_dir) == []


def test_a_worker_downloads_an_object_once_into_its_cache(s3):
    client, _, cache = s3
    data = os.urandom(200_000)
    uri, sha = _commit(data)
    path = local_path(uri)
    assert path == cache / f"{sha}.mp4" and path.read_bytes() == data
    inode = path.stat().st_ino
    # Gone from S3: a second resolution that went to S3 would fail. It is served from the cache.
    client.delete_object(Bucket=BUCKET, Key=f"{PREFIX}{sha}.mp4")
    again = local_path(uri)
    assert again == path and again.stat().st_ino == inode
    assert _files(cache) == [f"{sha}.mp4"]


def test_the_cache_drops_the_least_recently_used_videos_beyond_its_limit(s3, monkeypatch):
    _, _, cache = s3
    monkeypatch.setenv("WORKER_CACHE_MAX_BYTES", "250000")
    settings.get_settings.cache_clear()
    (a, _), (b, _), (c, _) = (_commit(os.urandom(100_000)) for _ in range(3))
    path_a, path_b = local_path(a), local_path(b)
    os.utime(path_a, (1, 1))
    os.utime(path_b, (2, 2))
    assert local_path(a) == path_a  # a cache hit: now a is the most recently used
    path_c = local_path(c)  # 300 kB > 250 kB: b, the least recently used, goes
    assert _files(cache) == sorted([path_a.name, path_c.name])


@pytest.mark.parametrize("uri", [
    "s3://other-bucket/uploads/{name}",
    "s3://{bucket}/elsewhere/{name}",
    "s3://{bucket}/uploads/../elsewhere/{name}",
    "s3://{bucket}/uploads/config.json",
    "s3://{bucket}/uploads/{name}?versionId=1",
    "s3://{bucket}/{name}",
    "https://{bucket}.s3.amazonaws.com/uploads/{name}",
])
def test_a_worker_refuses_objects_outside_the_configured_bucket_and_prefix(s3, uri):
    client, _, cache = s3
    data = b"a hostile message names an object that exists"
    name = f"{hashlib.sha256(data).hexdigest()}.mp4"
    client.create_bucket(Bucket="other-bucket")
    for bucket, key in [("other-bucket", f"uploads/{name}"), (BUCKET, f"elsewhere/{name}"), (BUCKET, "uploads/config.json"),
                        (BUCKET, name)]:
        client.put_object(Bucket=bucket, Key=key, Body=data)
    with pytest.raises(StorageError, match="is not an upload in|unsupported storage URI scheme"):
        local_path(uri.format(bucket=BUCKET, name=name))
    assert _files(cache) == []


def test_a_download_that_does_not_hash_to_its_name_is_refused_and_not_cached(s3):
    client, _, cache = s3
    key = f"{PREFIX}{hashlib.sha256(b'the announced bytes').hexdigest()}.mp4"
    client.put_object(Bucket=BUCKET, Key=key, Body=b"other bytes")
    with pytest.raises(StorageError, match="do not hash to the sha256"):
        local_path(f"s3://{BUCKET}/{key}")
    assert _files(cache) == []


def test_an_unreachable_s3_fails_the_commit_and_leaves_the_upload_to_discard(s3, monkeypatch):
    monkeypatch.setenv("S3_ENDPOINT_URL", f"http://127.0.0.1:{procs.free_port()}")  # nothing listens there
    settings.get_settings.cache_clear()
    upload = HashingUpload(limit=100).copy_from(io.BytesIO(b"x" * 100))
    with pytest.raises(StorageError, match="upload to s3://"):
        upload.commit("mp4")
    assert upload.path.exists()  # the API's request teardown discards it
    upload.discard()


def test_file_uris_still_resolve_in_upload_dir_only(s3):
    _, upload_dir, _ = s3
    inside = upload_dir / f"{'0' * 64}.mp4"
    upload_dir.mkdir(parents=True, exist_ok=True)
    inside.write_bytes(b"x")
    assert local_path(inside.as_uri()) == inside.resolve()
    with pytest.raises(StorageError, match="outside UPLOAD_DIR"):
        local_path("file:///etc/passwd")


def test_an_upload_reaches_a_worker_that_shares_no_disk_with_the_api(stack, workers, s3_endpoint, clips, tmp_path):
    api_uploads, worker_uploads, worker_cache = tmp_path / "api-uploads", tmp_path / "worker-uploads", tmp_path / "worker-cache"
    worker = workers.one(PREDICT, ready=False, env={
        **s3_env(s3_endpoint), "UPLOAD_DIR": str(worker_uploads), "WORKER_CACHE_DIR": str(worker_cache)})
    api = stack.start_api(env={**s3_env(s3_endpoint), "UPLOAD_DIR": str(api_uploads)}, workers=1)
    api_proc = stack.procs[-1]
    try:
        stack.wait_ready(worker)
        scene = Scene(setting="park", lighting="day", objects=("ball", "person"), moving=True, duration_s=4.0, look=1)
        path, _ = clips.clip("s3-park-ball-person", seed=61, scenes=[scene])  # bytes no other test uploads
        response = submit(api, path)
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        body = wait_job(api, job_id, timeout=60)
        assert body["status"] == "succeeded", body
        assert body["worker"].startswith(worker.name + ":") and body["result"]["cached"] is False
        # The video was read whole (the tags' accuracy is test_tagger's and test_replicated's business).
        assert body["result"]["duration_s"] == pytest.approx(scene.duration_s, abs=0.2) and tag_labels(body)

        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        assert jobs.get_job(job_id)["input"]["video_uri"] == f"s3://{BUCKET}/{PREFIX}{sha}.mp4"
        assert s3_client(s3_endpoint).head_object(Bucket=BUCKET, Key=f"{PREFIX}{sha}.mp4")["ContentLength"] == path.stat().st_size
        assert _files(api_uploads) == [], "the API kept a copy"
        assert _files(worker_cache) == [f"{sha}.mp4"] and _files(worker_uploads) == []
    finally:
        procs.stop(api_proc)
