"""The labelled video generator: real H.264 output, deterministic, truthful timelines, visible cuts."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import pytest

from brigade.settings import ROOT
from media.ffmpeg_bin import ffmpeg_binary
from media.frames import probe_duration
from models.build.synth import ALL_TAGS, TAG_GROUPS, Scene, make_clip, random_scenes
from tests.fixtures_media import clip

SCENE_THRESHOLD = 0.15  # ffmpeg scene score: generated cuts score >= ~0.18, within-scene changes <= ~0.13


def test_vocabulary_has_exclusive_and_non_exclusive_groups():
    assert len(ALL_TAGS) >= 12 and len(set(ALL_TAGS)) == len(ALL_TAGS)
    assert {name for name, group in TAG_GROUPS.items() if group["exclusive"]} == {"setting", "motion", "lighting"}
    assert TAG_GROUPS["objects"]["labels"] == ["ball", "box", "vehicle", "person", "animal"]
    assert "rain" in ALL_TAGS


def test_clip_is_h264_mp4_of_the_asked_length(tmp_path):
    path, gt = clip(seed=3, duration_s=4.0)
    header = subprocess.run([ffmpeg_binary(), "-hide_banner", "-i", str(path)], capture_output=True, text=True).stderr
    assert "Video: h264" in header and "320x240" in header
    assert probe_duration(path) == pytest.approx(4.0, abs=0.15)
    assert gt.duration_s == 4.0 and gt.scenes[0][0] == 0.0 and gt.scenes[-1][1] == 4.0
    assert set(gt.tags) == gt.scenes[0][2].tags


def test_same_seed_same_video_other_seed_other_video(tmp_path):
    digests, truths = [], []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        gt = make_clip(tmp_path / f"{name}.mp4", seed=seed, duration_s=2.0, width=160, height=120)
        digests.append(hashlib.sha256((tmp_path / f"{name}.mp4").read_bytes()).hexdigest())
        truths.append(gt.to_json())
    assert digests[0] == digests[1] and truths[0] == truths[1]
    assert digests[0] != digests[2]


def test_timeline_partitions_each_exclusive_group():
    gt = clip(seed=11, duration_s=40.0, cuts=True)[1]
    assert len(gt.scenes) >= 5
    for name, group in TAG_GROUPS.items():
        ranges = sorted(r for label in group["labels"] for r in gt.timeline.get(label, []))
        if group["exclusive"]:  # exactly one label at every moment: the ranges tile [0, duration]
            assert ranges[0][0] == 0.0 and ranges[-1][1] == gt.duration_s
            assert all(a[1] == pytest.approx(b[0]) for a, b in zip(ranges, ranges[1:], strict=False)), name
    for start, end, scene in gt.scenes:
        middle = (start + end) / 2
        present = {tag for tag, ranges in gt.timeline.items() if any(a <= middle < b for a, b in ranges)}
        assert present == scene.tags
    assert gt.tags == sorted(gt.timeline)


def test_random_scenes_respect_lengths_and_neighbours_differ():
    scenes = random_scenes(4, 120.0, min_scene_s=3.0, max_scene_s=8.0)
    assert sum(s.duration_s for s in scenes) == pytest.approx(120.0)
    assert all(3.0 <= s.duration_s <= 8.0 for s in scenes[:-1])
    assert all((a.setting, a.lighting) != (b.setting, b.lighting) for a, b in zip(scenes, scenes[1:], strict=False))
    assert random_scenes(4, 120.0) == random_scenes(4, 120.0) != random_scenes(5, 120.0)


def test_ffmpeg_scene_detection_finds_every_cut_and_nothing_else():
    path, gt = clip(seed=21, duration_s=45.0, cuts=True)
    log = subprocess.run(
        [ffmpeg_binary(), "-hide_banner", "-nostdin", "-i", str(path), "-vf",
         f"select='gt(scene,{SCENE_THRESHOLD})',showinfo", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr
    detected = [float(t) for t in re.findall(r"pts_time:([0-9.]+)", log)]
    assert len(gt.cuts) >= 5
    assert len(detected) == len(gt.cuts)
    assert all(abs(d - c) <= 0.11 for d, c in zip(detected, gt.cuts, strict=True))


def test_invalid_scenes_are_refused():
    with pytest.raises(ValueError):
        Scene("indoor", "day", (), weather="rain")
    with pytest.raises(ValueError):
        Scene("outdoor", "day", (), moving=True)
    with pytest.raises(ValueError):
        Scene("beach")


def test_a_long_video_renders_to_its_full_length(tmp_path):
    """Render speed is a benchmark matter (docs/MODEL_TAGGER.md quotes it), not a timed test."""
    truth = make_clip(tmp_path / "long.mp4", seed=2, scenes=random_scenes(2, 60.0))
    assert truth.duration_s == pytest.approx(60.0, abs=0.1)
    assert probe_duration(tmp_path / "long.mp4") == pytest.approx(60.0, abs=0.2)


def test_cli_prints_ground_truth(tmp_path):
    out = tmp_path / "cli.mp4"
    proc = subprocess.run(
        [sys.executable, "-m", "models.build.synth", "--out", str(out), "--seed", "1", "--duration", "3",
         "--width", "160", "--height", "120"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    printed = json.loads(proc.stdout)
    expected = make_clip(tmp_path / "same.mp4", seed=1, duration_s=3, width=160, height=120)
    assert printed["tags"] == expected.tags and printed["duration_s"] == 3.0
    assert out.read_bytes() == (tmp_path / "same.mp4").read_bytes()
