"""Uploads too large for the real server (gunicorn): cut off mid-stream, or refused before the
body is read, with a JSON problem and no job created. Every other refused input (not a video,
truncated, over a limit, hostile playlists, bad job ids) is checked in-process: test_app_videos.py
and test_app_jobs.py."""

from __future__ import annotations

import http.client
import json
import os
from urllib.parse import urlparse

import requests

from tests.appkit import problem


def test_too_large_upload_streamed_without_length(api, no_job_created):
    """A chunked body (no Content-Length) is cut off once it passes MAX_UPLOAD_BYTES."""
    limit = int(os.environ["MAX_UPLOAD_BYTES"])
    chunks = (b"\0" * 65536 for _ in range(limit // 65536 + 4))
    response = requests.post(f"{api}/v1/videos", data=chunks, headers={"Content-Type": "video/mp4"}, timeout=30)
    problem(response, 413, "upload-too-large")
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
