"""Planning a sharded job: how long segments may be, where they start and end, which shard queue
each goes to. Pure functions; the planner task feeds them the probe and the scene cuts."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

# Memory model of one segment task (see docs/ARCHITECTURE.md): a fixed part (the model, torch's
# allocator, the decoder's reference frames at the source resolution, one batch of input windows)
# plus a part that grows with the segment: per-window scores and the frames ffmpeg buffers ahead.
MODEL_AND_RUNTIME_MB = 350.0
DECODER_REFERENCE_FRAMES = 16
PER_SECOND_MB = 0.5

#: Decoding cost per decoded pixel, in bytes of compressed input that cost as much to decode. Fitted
#: on H.264 (docs/ARCHITECTURE.md): bytes + 0.009 x pixels predicts a range's decode time within
#: +-4 %, where ranges of equal length differed 9x.
PIXEL_COST_BYTES = 0.009
#: The scene-cut scan decodes no more keyframes than this either side of a boundary target: at a
#: streaming-typical 2 s GOP that is the whole default reach (SCENE_SEARCH_S=10); where an encoder
#: puts a keyframe every few frames (fast action) it narrows the scan instead of slowing it.
SCAN_KEYFRAMES_PER_SIDE = 5


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


def decode_cost_curve(times: np.ndarray, sizes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """(packet times, decoding cost of everything before each packet), from the packet index.

    A packet costs its compressed bytes (entropy decoding) plus `PIXEL_COST_BYTES` per decoded pixel
    (reconstruction, deblocking, the output frame): see docs/ARCHITECTURE.md for the fit."""
    cost = np.asarray(sizes, dtype=np.float64) + PIXEL_COST_BYTES * width * height
    return np.asarray(times, dtype=np.float64), np.cumsum(cost) - cost


def boundary_targets(duration: float, *, target_s: float, max_s: float,
                     cost: tuple[np.ndarray, np.ndarray] | None = None) -> list[float]:
    """Where segment boundaries would fall without scene cuts: `n` segments, `n` chosen so a segment
    is about `target_s` long and never over `max_s`. Without `cost` the segments are equally long;
    with a `decode_cost_curve` they cost the same to decode (an action scene costs several times a
    still one), and any that would run longer than `max_s` is split evenly."""
    n = max(1, math.ceil(duration / max_s), round(duration / max(target_s, 1e-6)))
    if cost is None or len(cost[0]) < 2:
        return [duration * k / n for k in range(1, n)]
    times, before = cost
    total = before[-1]
    quantiles = np.interp(total * np.arange(1, n) / n, before, times) if total > 0 else []
    points = [0.0, *sorted(float(q) for q in quantiles if 0.0 < q < duration), duration]
    targets = []
    for a, b in zip(points, points[1:]):
        pieces = math.ceil((b - a) / max_s - 1e-9)
        targets += [a + (b - a) * j / pieces for j in range(1, pieces)] + [b]
    return targets[:-1]


def cut_search_windows(duration: float, targets: list[float], *, reach_s: float,
                       keyframes: np.ndarray | None = None, max_keyframes: int = SCAN_KEYFRAMES_PER_SIDE
                       ) -> list[tuple[float, float]]:
    """The only stretches the planner scans for scene cuts: `reach_s` around each boundary target,
    and no more than `max_keyframes` keyframes either side of it when the keyframe times are known.
    The scan decodes keyframes, so this bounds the planner's cost per boundary whatever the content
    (fast action makes encoders put a keyframe every few frames)."""
    windows = []
    for target in targets:
        lo, hi = max(0.0, target - reach_s), min(duration, target + reach_s)
        if keyframes is not None and len(keyframes):
            split = int(np.searchsorted(keyframes, target, side="right"))
            before, after = keyframes[max(0, split - max_keyframes - 1):split], keyframes[split:split + max_keyframes]
            if len(before) > max_keyframes:  # the extra one only gives the first candidate its predecessor
                lo = max(lo, float(before[0]))
            if len(after) == max_keyframes:
                hi = min(hi, float(after[-1]) + 1e-3)
        windows.append((lo, hi))
    return windows


def plan_segments(duration: float, cuts: list[float], *, min_s: float, max_s: float, target_s: float,
                  reach_s: float, align_s: float = 0.0, targets: list[float] | None = None) -> list[Segment]:
    """Split [0, duration) at the boundary targets (default: equal lengths), each moved to the
    nearest scene cut within `reach_s` so a segment holds whole scenes; no segment shorter than
    `min_s` (unless the video is) nor longer than `max_s`. With `align_s` (the tagger's window),
    boundaries fall on its grid, so the segments' windows are exactly the windows of tagging the
    whole video at once."""
    if duration <= 0:
        raise PlanError("cannot plan a video of zero duration")
    if targets is None:
        targets = boundary_targets(duration, target_s=target_s, max_s=max_s)
    bounds = [0.0]
    for target in targets:
        nearby = [c for c in cuts if abs(c - target) <= reach_s
                  and c - bounds[-1] >= min_s and duration - c >= min_s and c - bounds[-1] <= max_s]
        end = min(nearby, key=lambda c: abs(c - target)) if nearby else min(target, bounds[-1] + max_s)
        if align_s > 0:
            end = min(math.floor(end / align_s + 0.5) * align_s, math.floor((bounds[-1] + max_s) / align_s) * align_s)
        if end - bounds[-1] < min(min_s, max_s) or duration - end < min(min_s, max_s):
            continue
        bounds.append(round(end, 3))
    bounds = _split_long([*bounds, round(duration, 3)], max_s, align_s)
    return [Segment(i, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def _split_long(bounds: list[float], max_s: float, align_s: float) -> list[float]:
    """Split evenly (on the grid) any gap over `max_s` that moving boundaries to cuts left behind."""
    step = max_s - align_s if 0 < align_s < max_s else max_s
    out = [bounds[0]]
    for a, b in zip(bounds, bounds[1:]):
        pieces = math.ceil((b - a) / step - 1e-9) if b - a > max_s + 1e-9 else 1
        for j in range(1, pieces):
            point = a + (b - a) * j / pieces
            out.append(round(math.floor(point / align_s) * align_s if align_s > 0 else point, 3))
        out.append(b)
    return out


def range_costs(segments: list[Segment], cost: tuple[np.ndarray, np.ndarray] | None) -> list[float]:
    """Each segment's share of the video's decoding cost (its share of the duration without a curve)."""
    if cost is None or len(cost[0]) < 2 or cost[1][-1] <= 0:
        total = sum(seg.duration for seg in segments) or 1.0
        return [seg.duration / total for seg in segments]
    times, before = cost
    edges = np.interp([segments[0].start] + [seg.end for seg in segments], times, before, right=before[-1])
    return [float(x) for x in np.diff(edges) / max(edges[-1] - edges[0], 1e-12)]


def longest_first(segments: list[Segment], shares: list[float]) -> list[Segment]:
    """Dispatch order: the costliest segment first, so the cheap ones fill in at the end and the
    workers finish together (longest-processing-time-first scheduling on a FIFO queue)."""
    return [seg for _, seg in sorted(zip(shares, segments, strict=True), key=lambda pair: (-pair[0], pair[1].segment_id))]


def target_length(duration: float, workers: int, per_worker: int, min_s: float, max_s: float) -> float:
    """Aim for `per_worker` segments per live worker, so uneven segments still balance."""
    pieces = max(1, workers * per_worker)
    return max(min_s, min(max_s, duration / pieces))


def shard_for(segment_key: str, num_shards: int) -> int:
    """The seed's `hash(segment_id) % NUM_SHARDS`, with a hash stable across processes (Python's
    `hash()` of a str is salted per process, so two planners would disagree)."""
    return zlib.crc32(segment_key.encode()) % num_shards
