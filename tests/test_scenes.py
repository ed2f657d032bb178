"""What the planner reads from a real file: the packet index (cost and keyframes) and the scene cuts,
scanned by several ffmpeg processes at once with the same answer as one."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from brigade.sharding import decode_cost_curve
from media.ffmpeg_bin import ffmpeg_binary
from media.index import read_packet_index
from media.probe import ProbeError, open_media, start_of
from media.scenes import detect_cuts
from models.build.synth import Scene
from tests.fixtures_media import clip, scenes_clip

GOP_S = 2.0  # the generator's keyframe interval; the scan sees keyframes only, so it reports a cut
# the encoder gave no keyframe of its own at the next keyframe after it


def test_the_index_lists_every_frame_in_time_order_with_its_keyframes():
    path, truth = clip(seed=31, duration_s=40.0, cuts=True)
    index = read_packet_index(path)
    assert len(index.times) == round(truth.duration_s * truth.fps)
    assert np.all(np.diff(index.times) > 0) and np.all(index.sizes > 0)
    assert (index.width, index.height) == (truth.width, truth.height)
    keyframes = index.keyframe_times
    assert keyframes[0] == 0.0 and np.max(np.diff(keyframes)) <= GOP_S + 1e-6
    assert len(keyframes) > truth.duration_s / 2  # plus the ones the encoder adds at cuts


def test_a_busy_scene_costs_more_to_decode_than_a_still_one():
    still = Scene(setting="indoor", lighting="day", objects=("box",), moving=False, duration_s=10.0, look=1)
    busy = Scene(setting="park", lighting="day", objects=("ball", "person", "animal"), moving=True,
                 weather="rain", duration_s=10.0, look=2)
    path, _ = scenes_clip(still, busy, seed=5)
    index = read_packet_index(path)
    times, before = decode_cost_curve(index.times, index.sizes, index.width, index.height)
    first, total = np.interp(10.0, times, before), before[-1]
    assert total - first > first  # the planner would put the boundary inside the busy scene


def test_the_index_refuses_what_is_not_media(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    with pytest.raises(ProbeError):
        read_packet_index(bogus)


def test_parallel_scan_finds_the_same_cuts_as_one_process_and_the_true_ones():
    path, truth = clip(seed=32, duration_s=60.0, cuts=True)
    true_cuts = [start for start, _, _ in truth.scenes[1:]]
    windows = [(max(0.0, c - 2.0), c + 2.0) for c in true_cuts]
    one = detect_cuts(str(path), windows=windows, processes=1)
    several = detect_cuts(str(path), windows=windows, processes=3)
    assert one == several
    assert len(one) == len(true_cuts)
    assert all(-1e-6 <= found - want <= GOP_S for found, want in zip(one, true_cuts, strict=True)), (one, true_cuts)
    assert detect_cuts(str(path), windows=[]) == []


def test_a_stream_that_does_not_start_at_zero_gets_the_same_times(tmp_path):
    """MPEG-TS timestamps start near 1.4 s; `-ss` counts from the file's start, so the index and the
    cuts must too, or every boundary and timeline edge of such a file would be off by that much."""
    path, _ = clip(seed=32, duration_s=60.0, cuts=True)
    remuxed = tmp_path / "same.ts"
    subprocess.run([ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-i", str(path), "-c", "copy", str(remuxed)],
                   check=True)
    with open_media(remuxed) as container:
        assert start_of(container) > 0.5  # the premise: this container does not start at zero
    mp4, ts = read_packet_index(path), read_packet_index(remuxed)
    assert np.allclose(mp4.keyframe_times, ts.keyframe_times, atol=1e-3)
    windows = [(10.0, 30.0), (40.0, 58.0)]
    assert detect_cuts(str(path), windows=windows) == detect_cuts(str(remuxed), windows=windows)
    assert detect_cuts(str(path)) == detect_cuts(str(remuxed))
