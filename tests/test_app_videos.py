"""POST /v1/videos in this process (the app layer, tests/appkit.py): a real upload is stored,
probed, recorded as a job and sent as one task; the mode follows the app's own settings; refused
uploads are JSON problems that create no job and send nothing; a broker that does not answer is a
503 and a failed job."""

from __future__ import annotations

import hashlib
import io
import os
import socket
from pathlib import Path

import pytest

from brigade import jobs
from brigade.storage import local_path
from tests import media_samples as samples
from tests.appkit import conforms, problem, upload

SINGLE, SHARDED = "tasks.predict.tag_video", "tasks.sharded.plan_video"


def test_an_upload_is_stored_recorded_as_a_job_and_sent_as_one_task(client, recorder, clip):
    response = upload(client, clip)
    assert response.status_code == 202, response.get_data(as_text=True)
    body = response.get_json()
    conforms(body, "Accepted")
    assert body["status"] == "queued" and body["mode"] == "single"
    assert response.headers["Location"] == body["status_url"] == f"/v1/jobs/{body['job_id']}"

    sha256 = hashlib.sha256(clip.read_bytes()).hexdigest()
    sent = recorder.only()
    assert sent.name == SINGLE and sent.task_id == body["job_id"]
    assert sent.kwargs == {"job_id": body["job_id"], "video_uri": sent.kwargs["video_uri"], "sha256": sha256, "fast": False,
                           "probe": sent.kwargs["probe"]}
    probed = sent.kwargs["probe"]  # the probe travels with the work: no worker opens the file for its header
    assert {k: probed[k] for k in ("width", "height", "codec", "start_s")} == {"width": 64, "height": 48, "codec": "h264", "start_s": 0.0}
    assert probed["header_duration_s"] == pytest.approx(2.0, abs=0.05)
    stored = local_path(sent.kwargs["video_uri"])
    assert stored.name == f"{sha256}.mp4" and stored.read_bytes() == clip.read_bytes()

    record = jobs.get_job(body["job_id"])
    assert (record["status"], record["kind"], record["mode"]) == ("queued", "video-tags", "single")
    assert record["input"]["sha256"] == sha256 and record["input"]["filename"] == "small.mp4"
    assert record["input"]["video_uri"] == sent.kwargs["video_uri"]
    assert {k: record["input"]["probe"][k] for k in ("width", "height", "codec")} == {"width": 64, "height": 48, "codec": "h264"}


def test_a_raw_body_and_the_fast_flag(client, recorder, clip):
    response = client.post("/v1/videos?fast=1", data=clip.read_bytes(), content_type="video/mp4")
    assert response.status_code == 202, response.get_data(as_text=True)
    sent = recorder.only()
    assert sent.kwargs["fast"] is True and sent.kwargs["video_uri"].endswith(".mp4")
    assert jobs.get_job(response.get_json()["job_id"])["input"]["fast"] is True


@pytest.mark.parametrize("query, overrides, mode", [
    ("", {}, "single"),  # 2 s and a few KB: under both thresholds
    ("", {"SHARD_THRESHOLD_S": "1.5"}, "sharded"),  # longer than this app's threshold
    ("", {"SHARD_THRESHOLD_BYTES": "1000"}, "sharded"),  # larger than it
    ("?mode=sharded", {}, "sharded"),
    ("?mode=single", {"SHARD_THRESHOLD_S": "1.5"}, "single"),  # the client's choice wins
    ("?mode=auto", {"SHARD_THRESHOLD_S": "1.5"}, "sharded"),
])
def test_the_mode_follows_the_apps_thresholds_unless_the_client_chooses(make_app, recorder, clip, query, overrides, mode):
    response = upload(make_app(**overrides).test_client(), clip, query)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.get_json()["mode"] == mode
    assert recorder.only().name == {"single": SINGLE, "sharded": SHARDED}[mode]
    assert jobs.get_job(response.get_json()["job_id"])["mode"] == mode


def test_an_unknown_mode_is_a_400(client, recorder, clip, no_job_created):
    body = problem(upload(client, clip, "?mode=turbo"), 400, "invalid-parameter")
    assert "turbo" in body["detail"]
    assert recorder.sent == []


def test_an_upload_over_the_apps_limit_is_a_413(make_app, recorder, no_job_created):
    client = make_app(MAX_UPLOAD_BYTES="4096").test_client()
    body = problem(client.post("/v1/videos", data=b"\0" * 5000, content_type="video/mp4"), 413, "upload-too-large")
    assert body["limit_bytes"] == 4096
    multipart = client.post("/v1/videos", data={"video": (io.BytesIO(b"\0" * 200_000), "big.mp4")},
                            content_type="multipart/form-data")
    assert problem(multipart, 413, "upload-too-large")["limit_bytes"] == 4096
    assert recorder.sent == []
    assert list((Path(os.environ["UPLOAD_DIR"]) / ".incoming").glob("*.part")) == []  # the partial files went with the requests


@pytest.mark.parametrize("request_kwargs, status, code", [
    (lambda: {"json": {"video": "x"}}, 415, "unsupported-media-type"),
    (lambda: {"data": b"", "content_type": "video/mp4"}, 400, "empty-upload"),
    (lambda: {"data": {"clip": (io.BytesIO(b"12345"), "a.mp4")}, "content_type": "multipart/form-data"}, 400, "missing-field"),
    (lambda: {"data": os.urandom(20000), "content_type": "video/mp4"}, 422, "not-a-video"),
], ids=["json", "empty", "no-video-field", "noise"])
def test_uploads_that_are_not_videos_are_refused(client, recorder, no_job_created, request_kwargs, status, code):
    problem(client.post("/v1/videos", **request_kwargs()), status, code)
    assert recorder.sent == []


def test_a_missing_video_field_names_the_fields_sent(client, no_job_created):
    response = client.post("/v1/videos", data={"clip": (io.BytesIO(b"12345"), "a.mp4"), "note": "hi"}, content_type="multipart/form-data")
    assert problem(response, 400, "missing-field")["fields"] == ["clip", "note"]


def test_a_playlist_naming_a_url_is_refused_without_fetching_it(client, tmp_path, no_job_created):
    """An HLS playlist disguised as .mp4 must not make the probe open a connection."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        path = tmp_path / "playlist.mp4"
        path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:{port}/seg.ts\n#EXT-X-ENDLIST\n")
        problem(upload(client, path), 422, "not-a-video")
        with pytest.raises(socket.timeout):
            listener.accept()


def test_a_concat_script_naming_local_files_is_refused(client, tmp_path, no_job_created):
    path = tmp_path / "concat.mp4"
    path.write_text("ffconcat version 1.0\nfile /etc/passwd\n")
    problem(upload(client, path), 422, "not-a-video")


def test_the_video_limits_are_the_apps(make_app, recorder, clip, no_job_created):
    narrow = make_app(MAX_VIDEO_WIDTH="32").test_client()
    assert "64x48" in problem(upload(narrow, clip), 422, "resolution-too-large")["detail"]
    short = make_app(MAX_VIDEO_SECONDS="1").test_client()
    assert "MAX_VIDEO_SECONDS" in problem(upload(short, clip), 422, "too-long")["detail"]
    assert recorder.sent == []


def test_a_truncated_or_audio_only_file_is_a_422(client, recorder, tmp_path, no_job_created):
    problem(upload(client, samples.truncated(tmp_path / "cut.mp4")), 422, "truncated")
    problem(upload(client, samples.audio_only(tmp_path / "sound.m4a")), 422, "no-video-stream")
    assert recorder.sent == []


def test_a_broker_that_does_not_answer_is_a_503_and_the_job_fails(client, recorder, clip):
    recorder.down = True
    problem(upload(client, clip), 503, "broker-unavailable")
    assert recorder.sent == [] and len(recorder.refused) == 1
    record = jobs.get_job(recorder.refused[0].task_id)  # created before the send, failed by it
    assert record["status"] == "failed" and record["error"]["type"] == "enqueue-failed"
    assert "Connection refused" in record["error"]["detail"]


# --- hostile media: the limits hold on the header, before any decoder runs ------------------------


PROBE_PEAK_RSS = """
import resource, sys
from media.probe import ProbeError, probe
try:
    probe(sys.argv[1])
except ProbeError as exc:
    print(exc.code)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _probe_in_a_fresh_process(path: Path) -> tuple[str, int]:
    """(the refusal code, the process's peak RSS in MB) of probing `path` alone in a new process."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", PROBE_PEAK_RSS, str(path)], capture_output=True, text=True,
                         check=True, timeout=120, cwd=Path(__file__).resolve().parent.parent).stdout.split()
    return out[0], int(out[-1])


def test_a_file_declaring_a_huge_frame_is_refused_without_decoding_it(client, tmp_path, no_job_created):
    """A 16000x16000 PNG frame is 768 MB decoded: the probe refuses it having allocated none of that."""
    path = samples.huge_frame(tmp_path / "huge.mkv")
    assert path.stat().st_size < 2_000_000
    problem(upload(client, path), 422, "undecodable")
    code, peak_mb = _probe_in_a_fresh_process(path)
    _, baseline_mb = _probe_in_a_fresh_process(samples.lavfi_video(tmp_path / "ok.mp4", duration=1.0))
    assert code == "undecodable"
    assert peak_mb < baseline_mb + 100, (peak_mb, baseline_mb)  # a decoded frame alone would add 768


def test_timestamps_that_restart_cannot_hide_a_video_s_length(make_app, recorder, tmp_path):
    """Ten 2-s MPEG-TS pieces whose timestamps each start at 0: probed as 20 s (the packets' count),
    so MAX_VIDEO_SECONDS and the sharding threshold see the real length."""
    path = samples.restarting_timestamps(tmp_path / "restart.ts")
    limited = make_app(MAX_VIDEO_SECONDS="10").test_client()
    assert "20.0s" in problem(upload(limited, path), 422, "too-long")["detail"]
    routed = make_app(SHARD_THRESHOLD_S="10").test_client().post(
        "/v1/videos", data={"video": (io.BytesIO(path.read_bytes()), "restart.ts")}, content_type="multipart/form-data")
    assert routed.status_code == 202 and routed.get_json()["mode"] == "sharded"
    assert recorder.only().kwargs["probe"]["duration_s"] == 20.0


def test_an_unknown_codec_is_a_415_not_a_500(client, tmp_path, no_job_created):
    problem(upload(client, samples.unknown_codec(tmp_path / "unknown.mkv")), 415, "unsupported-codec")


@pytest.mark.parametrize("client_name", ["x.m3u8", "x.txt", "no-extension", "x.mp4%00.m3u8"])
def test_the_stored_file_s_extension_is_the_probed_container_s_not_the_client_s(client, recorder, clip, client_name):
    response = client.post("/v1/videos", data={"video": (io.BytesIO(clip.read_bytes()), client_name)},
                           content_type="multipart/form-data")
    assert response.status_code == 202, response.get_data(as_text=True)
    stored = local_path(recorder.only().kwargs["video_uri"])
    assert stored.suffix == ".mp4" and stored.name == f"{hashlib.sha256(clip.read_bytes()).hexdigest()}.mp4"
    assert jobs.get_job(response.get_json()["job_id"])["input"]["filename"] == client_name  # kept as a label
