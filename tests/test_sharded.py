"""The sharded pattern end to end: planner, chord of segment tasks on 2 shard workers, merge."""

from __future__ import annotations

import subprocess

import pytest

from brigade import jobs
from devtools import procs
from models.build.synth import Scene
from tests.stack import CONTROL, GPU, PREDICT, Workers, submit, tag_labels, wait_job

BOUNDARY_TOLERANCE_S = 1.0


@pytest.fixture(scope="module")
def pool_workers(stack):
    """The module's workers: the pool below, and a replacement of one a test killed."""
    with Workers(stack) as ws:
        yield ws


@pytest.fixture(scope="module")
def shard_pool(pool_workers):
    return pool_workers.start(CONTROL, GPU, GPU, PREDICT)


def _multi_scene_scenes() -> list[Scene]:
    return [
        Scene(setting="indoor", lighting="day", objects=("box",), moving=False, duration_s=34.0, look=1),
        Scene(setting="park", lighting="day", objects=("ball", "person"), moving=True, duration_s=41.0, look=2),
        Scene(setting="outdoor", lighting="night", objects=("vehicle",), moving=True, duration_s=29.0, look=3),
        Scene(setting="park", lighting="night", objects=("animal",), moving=False, duration_s=38.0, look=4),
        Scene(setting="outdoor", lighting="day", objects=("person", "box"), moving=False, weather="rain",
              duration_s=33.0, look=5),
        Scene(setting="indoor", lighting="night", objects=("ball",), moving=True, duration_s=27.0, look=6),
    ]


@pytest.fixture(scope="module")
def long_video(clips):
    return clips.clip("multi-scene", seed=21, scenes=_multi_scene_scenes(), width=320, height=240, fps=10)


def _boundaries(ranges):
    return [t for r in ranges for t in r]


def _assert_timeline_matches(result, truth):
    for tag, truth_ranges in truth.timeline.items():
        got = result["timeline"].get(tag, [])
        assert len(got) == len(truth_ranges), (tag, got, truth_ranges)
        for want, have in zip(_boundaries(truth_ranges), _boundaries(got)):
            assert abs(want - have) <= BOUNDARY_TOLERANCE_S, (tag, got, truth_ranges)


def test_sharded_matches_single_and_the_ground_truth_timeline(api, shard_pool, long_video):
    path, truth = long_video
    sharded = submit(api, path, mode="sharded").json()
    single = submit(api, path, mode="single").json()
    assert sharded["mode"] == "sharded" and single["mode"] == "single"
    sharded_body = wait_job(api, sharded["job_id"], timeout=240)
    single_body = wait_job(api, single["job_id"], timeout=240)
    assert sharded_body["status"] == single_body["status"] == "succeeded", (sharded_body, single_body)

    assert tag_labels(sharded_body) == tag_labels(single_body)
    result = sharded_body["result"]
    assert len(result["segments"]) >= 4
    assert sharded_body["progress"]["done"] == sharded_body["progress"]["total"] == len(result["segments"])
    assert {seg["worker"].split(":")[0] for seg in result["segments"]} == {w.name for w in shard_pool[1:3]}
    plan = sharded_body["plan"]  # segments of equal decoding cost, each run once, none from the cache
    assert plan["balanced_by"] == "decode-cost" and plan["scene_detection"] == "ok"
    assert [(s["start"], s["end"]) for s in plan["segments"]] == [(s["start"], s["end"]) for s in result["segments"]]
    assert sum(s["cost_share"] for s in plan["segments"]) == pytest.approx(1.0, abs=1e-3)
    assert all(not seg["cached"] and 0 <= seg["ran_s"][0] < seg["ran_s"][1] for seg in result["segments"])
    assert sharded_body["created_at"] < sharded_body["started_at"] < sharded_body["finished_at"]

    _assert_timeline_matches(result, truth)


def test_an_mpeg_ts_upload_whose_clock_starts_late_gets_the_same_timeline(api, shard_pool, long_video, tmp_root):
    """MPEG-TS timestamps start near 1.4 s: the plan, the cuts and the timeline must count from the
    file's start, as the decoder's seeks do."""
    from media.ffmpeg_bin import ffmpeg_binary
    from media.scenes import detect_cuts

    path, truth = long_video
    remuxed = tmp_root / "multi-scene.ts"
    subprocess.run([ffmpeg_binary(), "-nostdin", "-y", "-loglevel", "error", "-i", str(path), "-c", "copy", str(remuxed)],
                   check=True)
    body = wait_job(api, submit(api, remuxed, mode="sharded").json()["job_id"], timeout=240)
    assert body["status"] == "succeeded", body
    cuts_of_the_mp4 = detect_cuts(str(path))  # an MP4's clock starts at 0
    assert body["plan"]["cuts"] and set(body["plan"]["cuts"]) <= set(cuts_of_the_mp4), (body["plan"], cuts_of_the_mp4)
    _assert_timeline_matches(body["result"], truth)


def test_a_shard_worker_killed_mid_job_loses_no_segment(api, shard_pool, pool_workers, clips):
    path, truth = clips.clip("multi-scene-kill", seed=22, scenes=_multi_scene_scenes()[::-1], width=320, height=240, fps=10)
    job_id = submit(api, path, mode="sharded").json()["job_id"]

    def _some_segment_running():
        record = jobs.get_job(job_id)
        return record if record["status"] == "running" and 0 < record["progress"]["done"] < record["progress"]["total"] else None

    procs.wait_until(_some_segment_running, 120, interval=0.02, what="segments in flight")
    victim = shard_pool[1]
    procs.kill(victim.proc)
    body = wait_job(api, job_id, timeout=240)
    assert body["status"] == "succeeded", body
    ids = [seg["segment_id"] for seg in body["result"]["segments"]]
    assert ids == sorted(set(ids)) == list(range(len(ids)))  # each segment once, none missing
    assert body["progress"]["done"] == body["progress"]["total"] == len(ids)
    spans = [(seg["start"], seg["end"]) for seg in body["result"]["segments"]]
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    objects = {"ball", "box", "vehicle", "person", "animal"}
    assert tag_labels(body) <= set(truth.tags)
    assert tag_labels(body) & objects == set(truth.tags) & objects
    shard_pool[1] = pool_workers.one(GPU)


def test_a_corrupted_middle_fails_the_job_naming_the_bad_range(api, shard_pool, tmp_root):
    from tests.media_samples import corrupt_middle

    path = corrupt_middle(tmp_root / "corrupt-middle.mp4", duration=180.0, size="192x144")
    response = submit(api, path, mode="sharded")
    assert response.status_code == 202, response.text
    body = wait_job(api, response.json()["job_id"], timeout=180)
    assert body["status"] == "failed"
    error = body["error"]
    assert error["type"] == "segment-failed", error
    bad = error["segments"]
    assert bad and all(seg["start"] > 0 and seg["end"] < 180.0 for seg in bad)  # not the intact ends
    assert f"segment {bad[0]['segment_id']} [{bad[0]['start']:.1f}s-{bad[0]['end']:.1f}s]" in error["detail"]
