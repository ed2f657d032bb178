"""Wrong or hostile input: a JSON problem body with the right 4xx, no job created, no worker hurt."""

from __future__ import annotations

import http.client
import json
import os
from urllib.parse import urlparse

import pytest
import requests

from tests import media_samples as samples
from tests.stack import assert_problem


def _post_file(api, path, field="video"):
    with open(path, "rb") as fh:
        return requests.post(f"{api}/v1/videos", files={field: (path.name, fh)}, timeout=30)


def test_empty_raw_body(api, no_job_created):
    response = requests.post(f"{api}/v1/videos", data=b"", headers={"Content-Type": "video/mp4"}, timeout=10)
    assert_problem(response, 400, "empty-upload")


def test_missing_video_field(api, no_job_created):
    response = requests.post(f"{api}/v1/videos", files={"clip": ("a.mp4", b"12345")}, timeout=10)
    body = assert_problem(response, 400, "missing-field")
    assert "clip" in body["fields"]


def test_wrong_content_type(api, no_job_created):
    response = requests.post(f"{api}/v1/videos", json={"video": "x"}, timeout=10)
    assert_problem(response, 415, "unsupported-media-type")


def test_bytes_that_are_not_a_video(api, no_job_created, tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(os.urandom(20000))
    assert_problem(_post_file(api, path), 422, "not-a-video")


def test_truncated_mp4(api, no_job_created, tmp_path):
    assert_problem(_post_file(api, samples.truncated(tmp_path / "cut.mp4")), 422, "truncated")


def test_audio_only_file(api, no_job_created, tmp_path):
    assert_problem(_post_file(api, samples.audio_only(tmp_path / "sound.m4a")), 422, "no-video-stream")


def test_resolution_over_the_limit(api, no_job_created, tmp_path):
    path = samples.lavfi_video(tmp_path / "huge.mp4", size="2048x1152", rate=2, duration=1.0)
    body = assert_problem(_post_file(api, path), 422, "resolution-too-large")
    assert "2048x1152" in body["detail"]


def test_duration_over_the_limit(api, no_job_created, tmp_path):
    path = samples.lavfi_video(tmp_path / "long.mp4", size="64x64", rate=1, duration=1900)
    body = assert_problem(_post_file(api, path), 422, "too-long")
    assert "MAX_VIDEO_SECONDS" in body["detail"]


def test_too_large_upload_streamed_without_length(api, no_job_created):
    """A chunked body (no Content-Length) is cut off once it passes MAX_UPLOAD_BYTES."""
    limit = int(os.environ["MAX_UPLOAD_BYTES"])
    chunks = (b"\0" * 65536 for _ in range(limit // 65536 + 4))
    response = requests.post(f"{api}/v1/videos", data=chunks, headers={"Content-Type": "video/mp4"}, timeout=30)
    assert_problem(response, 413, "upload-too-large")
    leftovers = list((tmp_path_of_uploads() / ".incoming").glob("*"))
    assert leftovers == []


def tmp_path_of_uploads():
    from pathlib import Path

    return Path(os.environ["UPLOAD_DIR"])


def test_too_large_upload_refused_before_the_body_is_read(api, no_job_created):
    """With a declared Content-Length over the limit the API answers 413 having read no body."""
    url = urlparse(api)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.putrequest("POST", "/v1/videos")
    conn.putheader("Content-Type", "video/mp4")
    conn.putheader("Content-Length", str(10 * 1024**3))
    conn.endheaders()
    conn.send(b"\0" * 1024)  # 1 KiB of a declared 10 GiB: the answer must not wait for the rest
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 413
    assert body["type"].endswith("/upload-too-large")


def test_unknown_job_is_404(api):
    for job_id in ("0" * 32, "not-a-job"):
        assert_problem(requests.get(f"{api}/v1/jobs/{job_id}", timeout=10), 404, "job-not-found")


def test_bad_wait_parameter(api):
    assert_problem(requests.get(f"{api}/v1/jobs/{'0' * 32}?wait=soon", timeout=10), 400, "invalid-parameter")


def test_a_playlist_naming_a_url_is_refused_without_fetching_it(api, no_job_created, tmp_path):
    """An HLS playlist disguised as .mp4 must not make the API (or ffmpeg) open a connection."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    path = tmp_path / "playlist.mp4"
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:{port}/seg.ts\n#EXT-X-ENDLIST\n")
    assert_problem(_post_file(api, path), 422, "not-a-video")
    with pytest.raises(socket.timeout):
        listener.accept()
    listener.close()


def test_a_concat_script_naming_local_files_is_refused(api, no_job_created, tmp_path):
    path = tmp_path / "concat.mp4"
    path.write_text("ffconcat version 1.0\nfile /etc/passwd\n")
    assert_problem(_post_file(api, path), 422, "not-a-video")
