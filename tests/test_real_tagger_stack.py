"""The pretrained DEFAULT tagger through the real stack: real photographs cut together, tagged on
the single path and on the sharded path (chord over 2 shard workers), against what is in them.

This module starts its own workers with TAGGER_MODEL=video-tagger (the session's other modules
serve the synthetic tagger, whose generator knows the ground truth); module-scoped, they are gone
before the next module's workers start.
"""

from __future__ import annotations

import pytest
import requests

from models.build.photos import PHOTOS, make_concat_clip
from tests.stack import CONTROL, GPU, PREDICT, Workers, submit, tag_labels, wait_job

SHOTS = ("cat", "motorcycle", "coffee", "grace_hopper", "rocket")
SHOT_S = 5.0
CUT_TOLERANCE_S = 1.0
REAL = {"TAGGER_MODEL": "video-tagger", "SEGMENT_MIN_S": "5"}


@pytest.fixture(scope="module")
def real_pool(stack):
    with Workers(stack) as ws:
        yield ws.start(CONTROL, GPU, GPU, PREDICT, env=REAL)


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


@pytest.fixture(scope="module")
def feature_reels():
    from models.build.eval_media import CLIPS, build_clip

    return build_clip(CLIPS["people-faces"]), build_clip(CLIPS["text-zoom"])


def _seen_shots(truth: dict, seen: list[list[float]]) -> set[int]:
    """The shots a feature's seen ranges overlap (by more than a sample's edge)."""
    return {shot["index"] for shot in truth["shots"] for a, b in seen if a < shot["end"] - 0.5 and shot["start"] + 0.5 < b}


def test_people_faces_and_text_from_one_decode_single_and_sharded(api, real_pool, feature_reels):
    """Features chosen per request (issue 19): the people and faces of real photographs and the
    words of title cards over real photographs, the same single and sharded."""
    from models.analysis.summary import edit_distance, normalized

    (faces_path, faces_truth), (text_path, text_truth) = feature_reels
    asked = {faces_path: "people,faces", text_path: "labels,text"}
    bodies = {(path, mode): wait_job(api, submit(api, path, mode=mode, features=features).json()["job_id"], timeout=300)
              for path, features in asked.items() for mode in ("single", "sharded")}
    assert {body["status"] for body in bodies.values()} == {"succeeded"}, bodies
    for path in asked:
        single, sharded = bodies[(path, "single")]["result"], bodies[(path, "sharded")]["result"]
        assert single["features"] == sharded["features"] == asked[path].split(",")
        for feature in ("people", "faces", "text"):
            assert (feature in single) == (feature in asked[path].split(","))
            assert single.get(feature) == sharded.get(feature), feature
        assert len(sharded["segments"]) >= 2 or path == text_path

    faces = bodies[(faces_path, "single")]["result"]
    with_people = {s["index"] for s in faces_truth["shots"] if s["people"]["count"]}
    with_faces = {s["index"] for s in faces_truth["shots"] if s["faces"]["count"]}
    assert _seen_shots(faces_truth, faces["people"]["seen"]) == with_people, faces["people"]["seen"]
    assert _seen_shots(faces_truth, faces["faces"]["seen"]) == with_faces, faces["faces"]["seen"]
    assert faces["faces"]["max_count"] >= 2 and faces["people"]["max_count"] >= 2
    assert "Person" in tag_labels(bodies[(faces_path, "single")])
    assert "tags" in faces and faces["timeline"].keys() == {"Person"}  # no labels asked: only the people's tag
    assert bodies[(faces_path, "single")]["result"]["model"]["frame_models"]["faces"]["runtime"] == "torchscript"
    assert faces["timings"]["models"]["people"]["frames"] == faces["people"]["sampled"]

    text = bodies[(text_path, "single")]["result"]
    for card in text_truth["cards"]:  # each card read (a letter or a space wrong at most in 8), in its own time
        truth = normalized(card["text"])
        entry = min(text["text"], key=lambda e: edit_distance(normalized(e["text"]), truth))
        assert edit_distance(normalized(entry["text"]), truth) <= len(truth) / 8, (card["text"], text["text"])
        assert all(card["start"] - 2.0 <= a and b <= card["end"] + 2.0 for a, b in entry["ranges"]), (card, entry)
    assert text["tags"], "labels were asked too"
