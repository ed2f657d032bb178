"""Planning a sharded job: how long segments may be, where they start and end, which shard queue
each goes to. Pure functions; the planner task feeds them the probe and the scene cuts."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

# Memory model of one segment task (see docs/ARCHITECTURE.md): a fixed part (the model, torch's
# allocator, the decoder's reference frames at the source resolution, one batch of input windows)
# plus a part that grows with the segment: per-window scores and the frames ffmpeg buffers ahead.
MODEL_AND_RUNTIME_MB = 350.0
DECODER_REFERENCE_FRAMES = 16
PER_SECOND_MB = 0.5


@dataclass(frozen=True)
class Segment:
    segment_id: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    def as_dict(self) -> dict:
        return {"segment_id": self.segment_id, "start": self.start, "end": self.end}


class PlanError(ValueError):
    pass


def fixed_memory_mb(width: int, height: int) -> float:
    decoder = width * height * 1.5 * DECODER_REFERENCE_FRAMES / 1e6  # yuv420 frames
    return MODEL_AND_RUNTIME_MB + decoder


def max_segment_seconds(budget_mb: float, width: int, height: int, cap_s: float) -> float:
    """The longest segment whose task fits in `budget_mb`; PlanError when not even a short one does."""
    room = budget_mb - fixed_memory_mb(width, height)
    if room <= 0:
        raise PlanError(f"SEGMENT_MEMORY_MB={budget_mb:g} is below the {fixed_memory_mb(width, height):.0f} MB "
                        f"a segment of a {width}x{height} video needs before its first second")
    return min(cap_s, room / PER_SECOND_MB)


def boundary_targets(duration: float, *, target_s: float, max_s: float) -> list[float]:
    """Where segment boundaries would fall without scene cuts: `n` equal segments, `n` chosen so
    a segment is about `target_s` and never over `max_s`."""
    n = max(1, math.ceil(duration / max_s), round(duration / max(target_s, 1e-6)))
    return [duration * k / n for k in range(1, n)]


def cut_search_windows(duration: float, *, target_s: float, max_s: float, reach_s: float) -> list[tuple[float, float]]:
    """The only stretches the planner scans for scene cuts: `reach_s` around each boundary target.
    Scanning there alone keeps the planner's cost proportional to the number of segments."""
    return [(max(0.0, b - reach_s), min(duration, b + reach_s))
            for b in boundary_targets(duration, target_s=target_s, max_s=max_s)]


def plan_segments(duration: float, cuts: list[float], *, min_s: float, max_s: float, target_s: float,
                  reach_s: float, align_s: float = 0.0) -> list[Segment]:
    """Split [0, duration) at the boundary targets, each moved to the nearest scene cut within
    `reach_s` so a segment holds whole scenes; no segment shorter than `min_s` (unless the video
    is) nor longer than `max_s`. With `align_s` (the tagger's window), boundaries fall on its grid,
    so the segments' windows are exactly the windows of tagging the whole video at once."""
    if duration <= 0:
        raise PlanError("cannot plan a video of zero duration")
    bounds = [0.0]
    for target in boundary_targets(duration, target_s=target_s, max_s=max_s):
        nearby = [c for c in cuts if abs(c - target) <= reach_s
                  and c - bounds[-1] >= min_s and duration - c >= min_s and c - bounds[-1] <= max_s]
        end = min(nearby, key=lambda c: abs(c - target)) if nearby else min(target, bounds[-1] + max_s)
        if align_s > 0:
            end = min(math.floor(end / align_s + 0.5) * align_s, math.floor((bounds[-1] + max_s) / align_s) * align_s)
        if end <= bounds[-1] or end >= duration:
            continue
        bounds.append(round(end, 3))
    bounds.append(round(duration, 3))
    return [Segment(i, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def target_length(duration: float, workers: int, per_worker: int, min_s: float, max_s: float) -> float:
    """Aim for `per_worker` segments per live worker, so uneven segments still balance."""
    pieces = max(1, workers * per_worker)
    return max(min_s, min(max_s, duration / pieces))


def shard_for(segment_key: str, num_shards: int) -> int:
    """The seed's `hash(segment_id) % NUM_SHARDS`, with a hash stable across processes (Python's
    `hash()` of a str is salted per process, so two planners would disagree)."""
    return zlib.crc32(segment_key.encode()) % num_shards


def shard_queue(index: int) -> str:
    return f"shard.{index}"
