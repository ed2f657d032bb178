"""Planning a sharded job: how long segments may be, where they start and end, which shard queue
each goes to. Pure functions; the planner task feeds them the probe and the scene cuts."""

from __future__ import annotations

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


def plan_segments(duration: float, cuts: list[float], *, min_s: float, max_s: float, target_s: float) -> list[Segment]:
    """Split [0, duration) into segments of about `target_s`, each end moved to the nearest scene
    cut within reach so a segment holds whole scenes, never shorter than `min_s` (but the last)
    nor longer than `max_s`."""
    if duration <= 0:
        raise PlanError("cannot plan a video of zero duration")
    min_s = min(min_s, max_s)
    target_s = max(min_s, min(target_s, max_s))
    cuts = sorted(c for c in cuts if 0 < c < duration)
    bounds, start = [0.0], 0.0
    while duration - start > max_s or duration - start > target_s + min_s / 2:
        ideal = start + target_s
        lo, hi = start + min_s, min(start + max_s, duration - min_s)
        reach = target_s / 2
        nearby = [c for c in cuts if lo <= c <= hi and abs(c - ideal) <= reach]
        end = min(nearby, key=lambda c: abs(c - ideal)) if nearby else min(max(ideal, lo), hi)
        if end <= start:
            break
        bounds.append(round(end, 3))
        start = end
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
