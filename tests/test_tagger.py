"""The shipped video tagger end to end: accuracy on fresh clips, segments, streaming memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from models.build.synth import Scene
from models.build.tagger_eval import evaluate, heldout_clips, window_labels
from models.registry import load_model
from models.tagger.inference import iter_windows, tag_file
from models.tagger.timeline import summarize
from tests.fixtures_media import SHIPPED_STORE, TAGGER, clip, scenes_clip


@pytest.fixture(scope="module")
def tagger():
    return load_model(TAGGER, store=SHIPPED_STORE)


def test_shipped_model_reaches_its_metrics_on_fresh_heldout_clips(tagger, tmp_path):
    clips = heldout_clips(tmp_path, seed=31_337, clips=4, clip_s=20.0)
    report = evaluate(tagger, clips)
    assert report["windows"] >= 50
    assert report["mAP"] >= 0.9, report


@pytest.mark.parametrize("scene", [
    Scene("park", "day", ("ball", "person"), moving=True, weather="rain", duration_s=6.0, look=1),
    Scene("indoor", "night", ("box", "animal"), moving=False, duration_s=6.0, look=2),
    Scene("outdoor", "day", ("vehicle",), moving=True, duration_s=6.0, look=3),
], ids=["park-rain-moving", "indoor-night-still", "street-vehicle"])
def test_clip_gets_its_ground_truth_tags(tagger, scene):
    path, gt = scenes_clip(scene, seed=77)
    result = tag_file(tagger, path)
    assert {t["label"] for t in result["tags"]} == set(gt.tags)
    assert [t["score"] for t in result["tags"]] == sorted((t["score"] for t in result["tags"]), reverse=True)
    assert set(result["scores"]) == set(tagger.labels)
    assert result["frames"] == 12 and len(result["windows"]) == 6 and result["duration_s"] == pytest.approx(6.0, abs=0.1)
    assert result["timings"]["decode_s"] > 0 and result["timings"]["infer_s"] > 0


def test_random_clips_get_their_tags(tagger):
    """Exclusive groups always right; the full tag set exactly right on most clips (objects are
    the hard part: clip-level object F1 is ~0.9-0.95, see docs/MODEL_TAGGER.md)."""
    exact = 0
    for seed in range(200, 208):
        path, gt = clip(seed=seed, duration_s=5.0)
        got = {t["label"] for t in tag_file(tagger, path)["tags"]}
        for group in ("setting", "motion", "lighting"):
            labels = set(tagger.groups[group]["labels"])
            assert got & labels == set(gt.tags) & labels, (seed, group)
        exact += got == set(gt.tags)
    assert exact >= 6, exact


def test_motion_is_decided_per_window(tagger):
    path, gt = scenes_clip(
        Scene("outdoor", "day", ("person", "ball"), moving=True, duration_s=5.0, look=4),
        Scene("outdoor", "day", ("person", "ball"), moving=False, duration_s=5.0, look=4),
        seed=5,
    )
    windows = tag_file(tagger, path)["windows"]
    starts = np.array([w["start"] for w in windows])
    y, inside = window_labels(gt, starts, 1.0, tagger.labels)
    moving = tagger.labels.index("moving")
    predicted = np.array([w["scores"]["moving"] >= 0.5 for w in windows])
    assert (predicted[inside] == (y[inside, moving] == 1)).all()


def test_segments_tag_like_the_whole_video_and_keep_absolute_times(tagger):
    path, _ = clip(seed=11, duration_s=40.0, cuts=True)
    whole = tag_file(tagger, path, start=10.0, end=20.0)
    parts = [tag_file(tagger, path, start=a, end=b) for a, b in ((10.0, 15.0), (15.0, 20.0))]
    merged = parts[0]["windows"] + parts[1]["windows"]
    assert [(w["start"], w["end"]) for w in merged] == [(w["start"], w["end"]) for w in whole["windows"]]
    assert merged[0]["start"] == 10.0 and merged[-1]["end"] == 20.0
    for a, b in zip(merged, whole["windows"], strict=True):
        assert max(abs(a["scores"][k] - b["scores"][k]) for k in a["scores"]) < 0.05
    pooled = summarize(merged, **tagger.vocab)
    assert {t["label"] for t in pooled["tags"]} == {t["label"] for t in whole["tags"]}
    assert pooled["scores"] == pytest.approx(whole["scores"], abs=0.05)


def test_progress_reports_up_to_the_total(tagger):
    path, _ = clip(seed=11, duration_s=40.0, cuts=True)
    calls = []
    tag_file(tagger, path, start=30.0, progress=lambda done, total: calls.append((done, total)))
    assert calls and calls[-1] == pytest.approx((10.0, 10.0), abs=0.1)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)


def _peak_tag_bytes(tagger, path) -> int:
    tracemalloc.start()
    try:
        tag_file(tagger, path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_tagging_memory_does_not_grow_with_length(tagger):
    short, _ = clip(seed=12, duration_s=20.0, cuts=True)  # already longer than one batch of frames
    long, _ = clip(seed=12, duration_s=120.0, cuts=True)
    _peak_tag_bytes(tagger, short)  # warm up one-time allocations
    short_peak, long_peak = _peak_tag_bytes(tagger, short), _peak_tag_bytes(tagger, long)
    one_batch = tagger.batch_windows * 2 * 128 * 128 * 3  # the frames of one decoded batch
    assert long_peak < 1.25 * short_peak, (short_peak, long_peak)
    assert long_peak < 2.5 * one_batch  # at most two batches alive; the long clip decodes to 7.5 batches


def test_iter_windows_groups_frames_and_keeps_a_trailing_partial_window():
    frames = np.arange(7)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    stamps = np.arange(7) * 0.5
    batches = [(stamps[:3], frames[:3]), (stamps[3:], frames[3:])]
    out = list(iter_windows(batches, 2))
    starts = np.concatenate([s for s, _ in out])
    firsts = [int(w[0, 0, 0, 0]) for _, ws in out for w in ws]
    assert starts.tolist() == [0.0, 1.0, 2.0, 3.0] and firsts == [0, 2, 4, 5]


def _windows(rows: list[dict]) -> list[dict]:
    return [{"start": float(i), "end": float(i + 1), "scores": row} for i, row in enumerate(rows)]


def test_exclusive_groups_resolve_to_one_label(tagger):
    row = dict.fromkeys(tagger.labels, 0.0) | {"indoor": 0.7, "park": 0.9, "ball": 0.8, "box": 0.6, "still": 0.4}
    summary = summarize(_windows([row] * 4), **tagger.vocab)
    assert [t["label"] for t in summary["tags"]] == ["park", "ball", "box"]


def test_single_window_blips_are_not_tags():
    rows = [{"a": 0.0, "b": 0.0} for _ in range(10)]
    rows[4]["a"] = 0.99  # one window
    for i in (2, 3, 4):
        rows[i]["b"] = 0.9  # three windows
    summary = summarize(_windows(rows), ["a", "b"], {}, 0.5)
    assert [t["label"] for t in summary["tags"]] == ["b"]
    assert summary["scores"] == pytest.approx({"a": 0.0, "b": 0.9})
    assert summary["timeline"] == {"b": [[2.0, 5.0]]}
