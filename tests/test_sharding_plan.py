"""Planning a sharded job: pure functions of brigade.sharding."""

from __future__ import annotations

import numpy as np
import pytest

from brigade.sharding import (
    PlanError,
    Segment,
    boundary_targets,
    cut_search_windows,
    decode_cost_curve,
    fixed_memory_mb,
    longest_first,
    max_segment_seconds,
    plan_segments,
    range_costs,
    target_length,
)


def _check_cover(segments, duration):
    assert segments[0].start == 0 and segments[-1].end == pytest.approx(duration, abs=1e-3)
    assert all(a.end == b.start for a, b in zip(segments, segments[1:]))
    assert [s.segment_id for s in segments] == list(range(len(segments)))


def test_without_cuts_the_video_splits_evenly_within_the_limits():
    segments = plan_segments(300.0, [], min_s=10, max_s=120, target_s=50, reach_s=10)
    _check_cover(segments, 300.0)
    assert len(segments) == 6 and all(s.duration == pytest.approx(50, abs=0.01) for s in segments)


def test_boundaries_move_to_the_nearest_cut_within_reach_only():
    cuts = [47.0, 58.0, 104.0, 170.0]  # 104 is 4 s from the target 100; 170 is 20 s from 150
    segments = plan_segments(300.0, cuts, min_s=10, max_s=120, target_s=50, reach_s=10)
    _check_cover(segments, 300.0)
    bounds = [s.end for s in segments[:-1]]
    assert bounds == [47.0, 104.0, 150.0, 200.0, 250.0]


def test_no_segment_exceeds_the_maximum_even_when_the_target_is_larger():
    segments = plan_segments(1000.0, [], min_s=10, max_s=90, target_s=400, reach_s=10)
    _check_cover(segments, 1000.0)
    assert max(s.duration for s in segments) <= 90


def test_a_cut_that_would_leave_a_too_short_segment_is_ignored():
    segments = plan_segments(100.0, [95.0], min_s=10, max_s=60, target_s=50, reach_s=50)
    assert all(s.duration >= 10 for s in segments)


def test_a_short_video_is_one_segment():
    segments = plan_segments(8.0, [3.0], min_s=10, max_s=60, target_s=50, reach_s=10)
    assert [(s.start, s.end) for s in segments] == [(0.0, 8.0)]


def test_the_planner_scans_only_around_boundaries():
    windows = cut_search_windows(1800.0, boundary_targets(1800.0, target_s=60, max_s=120), reach_s=10)
    assert len(windows) == 29
    assert sum(b - a for a, b in windows) <= 29 * 20 < 1800 / 3


def test_where_keyframes_are_dense_the_scan_decodes_only_a_few_either_side():
    dense = np.arange(0.0, 300.0, 0.25)  # fast action: a keyframe every 6 frames at 24 fps
    sparse = np.arange(0.0, 300.0, 2.0)  # a streaming-typical GOP
    (a, b), = cut_search_windows(300.0, [150.1], reach_s=10, keyframes=dense, max_keyframes=5)
    assert ((dense >= a) & (dense <= b)).sum() == 11  # five either side, plus the one before the first
    (a, b), = cut_search_windows(300.0, [150.1], reach_s=10, keyframes=sparse, max_keyframes=5)
    within_reach = sparse[(sparse >= 140.1) & (sparse <= 160.1)]
    assert a == 140.1 and b >= within_reach[-1] and len(within_reach) == 10  # the reach, not the cap, bounds it


def _curve(rates: list[tuple[float, float]], fps: float = 10.0):
    """A cost curve from (seconds, bytes per frame) stretches, as the packet index would give it."""
    times, sizes, t = [], [], 0.0
    for seconds, size in rates:
        count = int(seconds * fps)
        times += list(t + np.arange(count) / fps)
        sizes += [size] * count
        t += seconds
    return decode_cost_curve(np.array(times), np.array(sizes), 0, 0)


def test_with_a_cost_curve_segments_cost_the_same_not_last_the_same():
    cost = _curve([(100.0, 4000.0), (200.0, 1000.0)])  # the first third holds two thirds of the cost
    targets = boundary_targets(300.0, target_s=50, max_s=200, cost=cost)
    assert len(targets) == 5
    segments = plan_segments(300.0, [], min_s=10, max_s=200, target_s=50, reach_s=10, targets=targets)
    _check_cover(segments, 300.0)
    assert [s.duration for s in segments] == pytest.approx([25, 25, 25, 25, 100, 100], abs=0.2)
    assert range_costs(segments, cost) == pytest.approx([1 / 6] * 6, abs=0.01)


def test_cheap_stretches_are_still_split_at_the_maximum():
    cost = _curve([(20.0, 100_000.0), (580.0, 10.0)])  # nearly all the cost in the first 20 s
    targets = boundary_targets(600.0, target_s=100, max_s=120, cost=cost)
    segments = plan_segments(600.0, [], min_s=10, max_s=120, target_s=100, reach_s=10, align_s=1.0, targets=targets)
    _check_cover(segments, 600.0)
    assert max(s.duration for s in segments) <= 120 and min(s.duration for s in segments) >= 10


def test_random_plans_respect_the_limits_and_the_grid():
    rng = np.random.default_rng(7)
    for _ in range(200):
        duration = float(rng.uniform(30, 3000))
        max_s, min_s = float(rng.uniform(20, 200)), 10.0
        cost = _curve([(float(d), float(b)) for d, b in zip(rng.uniform(1, 60, 200), rng.uniform(1e2, 1e5, 200))])
        cost = (cost[0][cost[0] < duration], cost[1][cost[0] < duration])
        cuts = sorted(rng.uniform(0, duration, int(duration // 7)).round(3))
        targets = boundary_targets(duration, target_s=float(rng.uniform(10, 300)), max_s=max_s, cost=cost)
        segments = plan_segments(duration, list(cuts), min_s=min_s, max_s=max_s, target_s=60, reach_s=10,
                                 align_s=1.0, targets=targets)
        _check_cover(segments, duration)
        assert max(s.duration for s in segments) <= max_s + 1e-6
        assert len(segments) == 1 or min(s.duration for s in segments[:-1]) >= min_s - 1e-6
        assert all(s.end == round(s.end) for s in segments[:-1])


def test_the_costliest_segment_is_dispatched_first():
    segments = [Segment(0, 0, 10), Segment(1, 10, 20), Segment(2, 20, 30)]
    assert [s.segment_id for s in longest_first(segments, [0.2, 0.5, 0.3])] == [1, 2, 0]


def test_memory_budget_caps_segment_length_and_refuses_too_little():
    assert max_segment_seconds(10_000, 1280, 720, cap_s=120) == 120
    small = max_segment_seconds(fixed_memory_mb(1280, 720) + 10, 1280, 720, cap_s=120)
    assert 0 < small < 120
    assert max_segment_seconds(fixed_memory_mb(3840, 2160) + 10, 3840, 2160, cap_s=1e9) == pytest.approx(small)
    with pytest.raises(PlanError, match="SEGMENT_MEMORY_MB=100 .* MB"):
        max_segment_seconds(100, 1920, 1080, cap_s=120)


def test_target_length_follows_the_number_of_workers():
    assert target_length(600, workers=2, per_worker=3, min_s=10, max_s=120) == 100
    assert target_length(600, workers=4, per_worker=3, min_s=10, max_s=120) == 50
    assert target_length(30, workers=4, per_worker=3, min_s=10, max_s=120) == 10


def test_aligned_boundaries_fall_on_the_window_grid():
    segments = plan_segments(300.0, [47.4, 104.6], min_s=10, max_s=120, target_s=50, reach_s=10, align_s=1.0)
    _check_cover(segments, 300.0)
    assert [s.end for s in segments[:-1]] == [47.0, 105.0, 150.0, 200.0, 250.0]


@pytest.mark.integration  # real ffmpeg writes and probes a clip
def test_the_planner_takes_the_probe_its_message_carries(tmp_path):
    """plan_video's message carries the API's probe: the planner uses it as is (a path that does
    not exist proves nothing was probed again), and probes the file itself only without one."""
    from media.probe import ProbeError, probe
    from tasks.planner import video_info
    from tests.media_samples import lavfi_video

    path = lavfi_video(tmp_path / "clip.mp4", duration=3.0)
    info = probe(path)
    assert video_info(info.as_dict(), tmp_path / "gone.mp4") == info
    assert video_info(None, path) == info
    with pytest.raises(ProbeError):
        video_info({"not": "a probe"}, tmp_path / "gone.mp4")


def _probe_dict(**changes) -> dict:
    probed = {"container": "mpegts", "codec": "h264", "width": 640, "height": 360, "fps": 25.0, "duration_s": 20.0,
              "has_audio": False, "size_bytes": 1000, "start_s": 1.4, "header_duration_s": 19.96}
    return {**probed, **changes}


def test_each_segment_is_sent_the_stream_facts_of_the_jobs_probe():
    """The planner hands every segment the header facts (the container's duration, codec, start,
    size) of the probe its message carries, so no segment opens the file to read them."""
    from media.probe import VideoFacts, VideoInfo, facts_of
    from tasks.planner import segment_facts

    facts = segment_facts(VideoInfo(**_probe_dict()))
    assert facts == {"duration_s": 19.96, "codec": "h264", "start_s": 1.4, "width": 640, "height": 360}
    assert VideoFacts.from_dict(facts) == facts_of(_probe_dict()) == VideoFacts(19.96, "h264", 1.4, 640, 360)


@pytest.mark.parametrize("probed", [
    None,  # no probe sent (a single-path message of an older API)
    {k: v for k, v in _probe_dict().items() if k not in ("start_s", "header_duration_s")},  # an older API's probe
    _probe_dict(header_duration_s=0.0),  # a header with no duration: the worker reads (and refuses) it itself
    {"not": "a probe"},
])
def test_without_facts_in_its_message_a_worker_reads_them_from_the_file(probed):
    from media.probe import VideoFacts, facts_of, info_of
    from tasks.planner import segment_facts

    assert facts_of(probed) is None
    assert VideoFacts.from_dict(probed) is None
    info = info_of(probed)
    assert info is None or segment_facts(info) is None
