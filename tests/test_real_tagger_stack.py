"""The pretrained DEFAULT tagger through the real stack: real photographs cut together, tagged on
the single path and on the sharded path (chord over 2 shard workers), against what is in them.

This module starts its own workers with TAGGER_MODEL=video-tagger (the session's other modules
serve the synthetic tagger, whose generator knows the ground truth); module-scoped, they are gone
before the next module's workers start.
"""

from __future__ import annotations

import pytest
import requests

from devtools import procs
from models.photos import PHOTOS, make_concat_clip
from tests.stack import submit, tag_labels, wait_job

SHOTS = ("cat", "motorcycle", "coffee", "grace_hopper", "rocket")
SHOT_S = 5.0
CUT_TOLERANCE_S = 1.0
REAL = {"TAGGER_MODEL": "video-tagger", "SEGMENT_MIN_S": "5"}


@pytest.fixture(scope="module")
def real_pool(stack):
    workers = [stack.start_worker("merge", pool="threads", wait_ready=False, prefix="control", env=REAL),
               stack.start_worker("segments", pool="solo", wait_ready=False, prefix="gpu", env=REAL),
               stack.start_worker("segments", pool="solo", wait_ready=False, prefix="gpu", env=REAL),
               stack.start_worker("predict", wait_ready=False, env=REAL)]
    for worker in workers:
        stack.wait_ready(worker)
    yield workers
    for worker in workers:
        procs.stop(worker.proc)


@pytest.fixture(scope="module")
def photo_reel(tmp_root):
    return make_concat_clip(tmp_root / "photo-reel.mp4", list(SHOTS), seconds_each=SHOT_S)


def _expected() -> set[str]:
    return set().union(*(PHOTOS[name].expected for name in SHOTS))


def _allowed() -> set[str]:
    return _expected() | set().union(*(PHOTOS[name].allowed for name in SHOTS))


def _assert_shots_follow_the_cuts(result: dict, cuts: list[float]) -> None:
    shots = result["shots"]
    boundaries = [shot["start"] for shot in shots[1:]]
    assert len(boundaries) == len(cuts), shots
    assert all(abs(b - c) <= CUT_TOLERANCE_S for b, c in zip(boundaries, cuts, strict=True)), (boundaries, cuts)
    for shot, name in zip(shots, SHOTS, strict=True):
        labels = {t["label"] for t in shot["tags"]}
        assert PHOTOS[name].expected <= labels <= PHOTOS[name].expected | PHOTOS[name].allowed, (name, shot)


def test_single_and_sharded_tag_real_photographs_and_their_shots(api, real_pool, photo_reel):
    path, cuts = photo_reel
    single = wait_job(api, submit(api, path, mode="single").json()["job_id"], timeout=240)
    sharded = wait_job(api, submit(api, path, mode="sharded").json()["job_id"], timeout=240)
    assert single["status"] == sharded["status"] == "succeeded", (single, sharded)
    for body in (single, sharded):
        assert body["result"]["model"]["name"] == "video-tagger" and body["result"]["model"]["version"] == "2.0.0"
        assert _expected() <= tag_labels(body) <= _allowed(), body["result"]["tags"]
        _assert_shots_follow_the_cuts(body["result"], cuts)
        tags = {t["label"]: t for t in body["result"]["tags"]}
        for tag in tags.values():  # parents are named, kept, and score at least as high
            assert all(p in tags and tags[p]["score"] >= tag["score"] for p in tag["parents"]), tag
    assert tag_labels(single) == tag_labels(sharded)

    segments = sharded["result"]["segments"]
    assert len(segments) >= 2
    for segment in segments:  # each segment's tags come from the photos it covers
        covered = [name for i, name in enumerate(SHOTS) if i * SHOT_S < segment["end"] and segment["start"] < (i + 1) * SHOT_S]
        allowed = set().union(*(PHOTOS[n].expected | PHOTOS[n].allowed for n in covered))
        assert {t["label"] for t in segment["tags"]} <= allowed, (segment, covered)


def test_readiness_names_the_version_the_workers_loaded(api, real_pool):
    body = requests.get(f"{api}/readyz", timeout=10).json()
    names = {w.name for w in real_pool}
    models = {r["model"] for r in body["replicas"] if r["hostname"] in names}
    assert models == {"video-tagger@2.0.0"}, body
