"""The replicated pattern end to end: real API (gunicorn), real Redis, real `celery worker`
replicas, real ffmpeg and the shipped tagger."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from brigade import jobs
from devtools import procs
from models.build.synth import Scene
from tests.stack import PREDICT, Workers, submit, tag_labels, wait_job


@pytest.fixture(scope="module")
def replicas(stack):
    with Workers(stack) as ws:
        yield ws.start(PREDICT, PREDICT)


def test_generated_clip_comes_back_with_the_tags_of_its_scene(api, replicas, clips):
    # The model's accuracy over many generated scenes is measured in test_tagger.py; here one scene
    # checks that what the HTTP path returns is the model's answer, and the right one.
    scene = Scene(setting="park", lighting="day", objects=("ball", "person"), moving=True, duration_s=6.0, look=1)
    path, truth = clips.clip("park-ball-person", seed=11, scenes=[scene])
    response = submit(api, path)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert response.headers["Location"] == accepted["status_url"]

    body = wait_job(api, accepted["job_id"])
    assert body["status"] == "succeeded", body
    assert tag_labels(body) == set(truth.tags)
    assert body["result"]["model"]["name"] == "synth-tagger"
    assert body["result"]["model"]["version"]
    assert body["result"]["timings"]["infer_s"] > 0
    assert body["progress"]["percent"] == 100.0

    in_process = _tag_in_process(path)
    assert {t["label"]: t["score"] for t in body["result"]["tags"]} == pytest.approx(
        {t["label"]: t["score"] for t in in_process["tags"]}, abs=1e-3)
    assert body["result"]["timeline"] == in_process["timeline"]


def _tag_in_process(path):
    from models.registry import load_model
    from models.tagger.inference import tag_file

    return tag_file(load_model("synth-tagger"), str(path))


def test_the_same_video_twice_is_answered_from_the_cache(api, replicas, clips):
    path, _ = clips.clip("indoor-box", seed=12, scenes=[Scene(setting="indoor", objects=("box",), duration_s=4.0)])
    first = wait_job(api, submit(api, path).json()["job_id"])
    second = wait_job(api, submit(api, path).json()["job_id"])
    assert first["status"] == second["status"] == "succeeded"
    assert first["result"]["cached"] is False
    assert second["result"]["cached"] is True
    assert second["result"]["tags"] == first["result"]["tags"]
    assert first["result"]["timings"]["infer_s"] > 0 and first["result"]["timings"]["frames_sampled"] > 0
    again = second["result"]["timings"]  # the model did not run again, nothing was decoded
    assert again["infer_s"] == again["frames_sampled"] == again["frames_decoded"] == 0
    assert second["progress"]["percent"] == 100.0


def test_twenty_concurrent_uploads_spread_over_both_replicas(api, replicas, clips):
    paths = [clips.clip(f"burst-{i}", seed=100 + i, duration_s=3.0, width=160, height=120)[0] for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda p: submit(api, p), paths))
    assert [r.status_code for r in responses] == [202] * 20
    with ThreadPoolExecutor(max_workers=20) as pool:
        bodies = list(pool.map(lambda r: wait_job(api, r.json()["job_id"], timeout=180), responses))
    assert [b["status"] for b in bodies] == ["succeeded"] * 20
    served_by = {b["worker"].split(":")[0] for b in bodies}
    assert served_by == {w.name for w in replicas}


def test_a_replica_killed_mid_task_loses_nothing(api, replicas, clips, stack):
    path, _ = clips.clip("long-for-kill", seed=13, duration_s=480.0, width=160, height=120, fps=8)
    job_id = submit(api, path, mode="single").json()["job_id"]

    def _running_with_progress():
        record = jobs.get_job(job_id)
        progress = record["progress"]
        return record if record["status"] == "running" and 0 < progress["done"] < progress["total"] else None

    record = procs.wait_until(_running_with_progress, 60, interval=0.01, what="job running")
    victim = next(w for w in replicas if record["worker"].startswith(w.name + ":"))
    procs.kill(victim.proc)  # SIGKILL to the replica's whole process group, mid-task

    # Redelivered by the reaper within a few heartbeat TTLs, not after the hour-long visibility
    # timeout: the job could not finish inside this wait otherwise (no speed bound beyond that).
    body = wait_job(api, job_id, timeout=600)
    assert body["status"] == "succeeded", body
    assert not body["worker"].startswith(victim.name + ":")
    assert tag_labels(body) == {t["label"] for t in _tag_in_process(path)["tags"]}  # the whole video, once
    replicas.remove(victim)


@pytest.mark.parametrize("video_uri, sha256, detail", [
    ("file:///etc/passwd", "0" * 64, "sha256 does not name its video"),  # a forged hash: before any cache lookup
    (f"file:///tmp/{'0' * 64}.mp4", "0" * 64, "outside UPLOAD_DIR"),  # a well-named file outside shared storage
])
def test_a_hostile_message_fails_its_job_and_the_replica_lives_on(api, replicas, video_uri, sha256, detail):
    """A message as if someone wrote to the broker fails its job with a clear error that names no
    server path; the replica is still there for the next job."""
    from worker.celery_app import app as celery

    job_id = jobs.create_job("video-tags", "single")
    celery.send_task("tasks.predict.tag_video", task_id=job_id,
                     kwargs={"job_id": job_id, "video_uri": video_uri, "sha256": sha256})
    body = wait_job(api, job_id)
    assert body["status"] == "failed"
    assert detail in body["error"]["detail"] and "/etc" not in body["error"]["detail"]
    assert all(w.proc.poll() is None for w in replicas)
    echo = requests.post(f"{api}/v1/echo", params={"wait": 10}, json={"payload": "still here"}, timeout=30).json()
    assert echo["result"]["echo"] == "still here"


def test_a_job_whose_message_no_worker_runs_fails_at_its_deadline_and_stays_failed(api, replicas):
    """A message the replicas discard (a task name none of them knows) would leave its job queued
    forever; the watchdog fails it at its deadline. A later message for the same job, now ended,
    is not run: the answer the client has does not change under it."""
    from worker.celery_app import app as celery

    job_id = jobs.create_job("echo", "single", deadline_s=2)
    celery.send_task("tasks.ops.no_such_task", task_id=job_id, kwargs={"job_id": job_id}, queue="predict")
    body = wait_job(api, job_id)
    assert body["status"] == "failed" and body["error"]["type"] == "timed-out", body
    late = celery.send_task("tasks.ops.echo", kwargs={"job_id": job_id, "payload": "late"})
    assert late.get(timeout=60) == {"job_id": job_id, "skipped": "the job had already ended"}
    assert jobs.get_job(job_id)["status"] == "failed" and "result" not in jobs.get_job(job_id)


def test_frames_that_grow_past_the_header_fail_their_job_cheaply_and_say_why(api, replicas, tmp_root):
    """The header and first frame say 64x64, the next frames are 16000x16000: the probe cannot
    see them without decoding them all, so the job is accepted; the worker's ffmpeg, capped at the
    largest accepted picture, refuses them instead of allocating 768 MB each, and the job says so
    in words, with no server path or ffmpeg output in it."""
    from tests.media_samples import growing_frames

    path = growing_frames(tmp_root / "growing.mkv")
    response = submit(api, path)
    assert response.status_code == 202, response.text
    body = wait_job(api, response.json()["job_id"])
    assert body["status"] == "failed", body
    assert body["error"] == {"type": "decode-failed", "detail": "a frame is larger than the accepted resolution"}
    assert all(w.proc.poll() is None for w in replicas)


def test_a_job_leaves_its_answer_in_the_job_record_only(api, replicas):
    """The job record is the result: no Celery result is written for a job the API enqueued (it
    would cost a result-channel subscription per request and two writes per task, read by no one)."""
    from brigade.redis_client import redis_client

    body = requests.post(f"{api}/v1/echo", params={"wait": 10}, json={"payload": 7}, timeout=30).json()
    assert body["status"] == "succeeded" and body["result"]["echo"] == 7
    assert redis_client().exists(f"celery-task-meta-{body['job_id']}") == 0
