"""Tag a video, or a segment of one, streaming frames through the model batch by batch.

Per-window scores are independent of each other, so the windows of several segments can be
concatenated and summarized (`models.tagger.timeline.summarize`) to get the same answer as
tagging the whole file. Frames are sampled at the artifact's rate (`frames_per_window /
window_s`: 1 frame per second for video-tagger@2, from the middle of each second) and
`tagger.batch_windows` windows go through one forward pass (TAGGER_BATCH; 4 on CPU, 64 on CUDA).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from media.frames import iter_frame_batches, probe_duration
from models.tagger.artifact import Tagger

MIN_SHOT_S = 0.5


@dataclass(frozen=True)
class TagRequest:
    """What to tag: a file, or its [start, end) range; `shots` also scans the range for scene cuts."""

    path: str
    start: float | None = None
    end: float | None = None
    fast: bool = False
    shots: bool = True
    progress: Callable[[float, float], None] | None = None


def iter_windows(batches: Iterable[tuple[np.ndarray, np.ndarray]], frames_per_window: int
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Regroup (timestamps, frames) batches into (window starts, uint8 [B, T, H, W, 3]).

    A trailing partial window borrows the frames just before it, so the end of the range is still
    tagged (with motion measured over the last T frames).
    """
    t = frames_per_window
    carry_stamps, carry_frames = np.empty(0), None
    last_frames = None
    for stamps, frames in batches:
        if carry_frames is not None and len(carry_frames):
            stamps, frames = np.concatenate([carry_stamps, stamps]), np.concatenate([carry_frames, frames])
        whole = len(stamps) // t * t
        if whole:
            last_frames = frames[whole - t : whole]
            yield stamps[:whole:t], frames[:whole].reshape(-1, t, *frames.shape[1:])
        carry_stamps, carry_frames = stamps[whole:], frames[whole:]
    if carry_frames is not None and len(carry_frames):
        context = carry_frames if last_frames is None else np.concatenate([last_frames, carry_frames])
        window = context[-t:]
        if len(window) < t:  # the whole range is shorter than one window
            window = np.concatenate([np.repeat(window[:1], t - len(window), axis=0), window])
        yield carry_stamps[:1], window[None]


def tag_frames(tagger: Tagger, batches: Iterable[tuple[np.ndarray, np.ndarray]], *, range_end: float | None = None,
               progress: Callable[[float, float], None] | None = None, range_start: float = 0.0) -> dict:
    """Tag already-decoded frame batches (as `media.frames.iter_frame_batches` yields them)."""
    window_s = tagger.window_s
    starts, probs, frame_count = [], [], 0
    decode_s = infer_s = 0.0
    iterator = iter_windows(batches, tagger.frames_per_window)
    while True:
        t0 = time.perf_counter()
        item = next(iterator, None)
        t1 = time.perf_counter()
        decode_s += t1 - t0
        if item is None:
            break
        window_starts, windows = item
        probs.append(tagger.infer(windows))
        infer_s += time.perf_counter() - t1
        starts.append(window_starts)
        frame_count += windows.shape[0] * windows.shape[1]
        if progress is not None and range_end is not None:
            progress(min(float(window_starts[-1]) + window_s, range_end) - range_start, range_end - range_start)
    all_starts = np.concatenate(starts) if starts else np.empty(0)
    all_probs = np.concatenate(probs) if probs else np.empty((0, len(tagger.labels)), np.float32)
    windows = []
    for start, row in zip(all_starts, all_probs, strict=True):
        end = start + window_s if range_end is None else min(start + window_s, range_end)
        windows.append({"start": round(float(start), 3), "end": round(float(end), 3),
                        "scores": {label: round(float(p), 4) for label, p in zip(tagger.labels, row, strict=True)}})
    end = range_end if range_end is not None else (windows[-1]["end"] if windows else range_start)
    return {
        "windows": windows,
        "span": [round(range_start, 3), round(end, 3)],
        "duration_s": round(max(0.0, end - range_start), 3),
        "frames": frame_count,
        "timings": {"decode_s": round(decode_s, 4), "infer_s": round(infer_s, 4)},
    }


def frame_batches(tagger: Tagger, request: TagRequest, cuts: list | None = None
                  ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The preprocess stage: sampled, resized frames of the range, a batch of windows at a time
    (and, into `cuts`, the scene cuts the same decode finds)."""
    return iter_frame_batches(
        request.path,
        fps=tagger.frames_per_window / tagger.window_s,
        size=tagger.frame_size,
        start=request.start,
        end=request.end,
        batch=tagger.batch_windows * tagger.frames_per_window,
        fast=request.fast,
        cuts=cuts,
    )


def tag_request(tagger: Tagger, request: TagRequest) -> dict:
    """Per-window scores of the range (streamed through preprocess and infer), its span, and the
    scene cuts inside it (the shots of the result)."""
    t0 = time.perf_counter()
    range_start = float(request.start or 0.0)
    file_end = probe_duration(request.path)
    range_end = file_end if request.end is None else min(float(request.end), file_end)
    probe_s = time.perf_counter() - t0
    cuts: list[float] | None = [] if request.shots else None
    result = tag_frames(tagger, tagger.preprocess(request, cuts), range_start=range_start, range_end=range_end,
                        progress=request.progress)
    result["timings"]["decode_s"] = round(result["timings"]["decode_s"] + probe_s, 4)
    result["cuts"] = shot_cuts(cuts or [], range_start, range_end)
    return result


def shot_cuts(found: list[float], start: float, end: float) -> list[float]:
    """The decode's scene cuts inside (start, end), at least MIN_SHOT_S after the range start and
    after the cut before: the frame after a hard cut often scores high against the cut frame too
    (a double report 0.2 s later), and no shot is that short."""
    kept: list[float] = []
    for cut in sorted(found):
        if start + MIN_SHOT_S <= cut < end and (not kept or cut - kept[-1] >= MIN_SHOT_S):
            kept.append(cut)
    return kept


def tag_video(tagger: Tagger, path, *, start: float | None = None, end: float | None = None, fast: bool = False,
              progress: Callable[[float, float], None] | None = None, shots: bool = True) -> dict:
    """Tag `path` (or its [start, end) range) in process: the per-window scores, the span and cuts,
    and the summary a client sees (tags, scores, timeline, shots), exactly as a worker does."""
    return tagger.handle(TagRequest(str(path), start, end, fast, shots, progress))
