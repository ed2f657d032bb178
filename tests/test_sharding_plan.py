"""Planning a sharded job: pure functions of brigade.sharding."""

from __future__ import annotations

import pytest

from brigade.sharding import (
    PlanError,
    cut_search_windows,
    fixed_memory_mb,
    max_segment_seconds,
    plan_segments,
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
    windows = cut_search_windows(1800.0, target_s=60, max_s=120, reach_s=10)
    assert len(windows) == 29
    assert sum(b - a for a, b in windows) <= 29 * 20 < 1800 / 3


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
