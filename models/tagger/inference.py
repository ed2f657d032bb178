"""Tag a video, or a segment of one, streaming frames through the model batch by batch.

Per-window scores are independent of each other, so the windows of several segments can be
concatenated and pooled with `clip_scores` to get the same answer as tagging the whole file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from media.frames import iter_frame_batches, probe_duration
from models.tagger.artifact import Tagger

WINDOWS_PER_BATCH = 16
SMOOTH_WINDOWS = 3


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


def clip_scores(window_probs: np.ndarray) -> np.ndarray:
    """Clip-level score per label: the best `SMOOTH_WINDOWS`-window running mean.

    A tag seen for a couple of seconds anywhere counts; a single-window blip does not.
    """
    if len(window_probs) == 0:
        return np.zeros(window_probs.shape[1:], np.float32)
    if len(window_probs) < SMOOTH_WINDOWS:
        return window_probs.mean(axis=0)
    kernel = np.ones(SMOOTH_WINDOWS) / SMOOTH_WINDOWS
    smoothed = np.apply_along_axis(lambda column: np.convolve(column, kernel, mode="valid"), 0, window_probs)
    return smoothed.max(axis=0)


def resolve_tags(tagger: Tagger, scores: dict[str, float]) -> list[dict]:
    """Labels at or above the threshold, one per exclusive group, sorted by score (desc)."""
    kept = {label for label, score in scores.items() if score >= tagger.threshold}
    for group in tagger.groups.values():
        members = [label for label in group["labels"] if label in kept]
        if group.get("exclusive") and len(members) > 1:
            best = max(members, key=scores.__getitem__)
            kept -= set(members) - {best}
    return sorted(({"label": label, "score": round(float(scores[label]), 4)} for label in kept),
                  key=lambda tag: -tag["score"])


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
        probs.append(tagger.window_probs(windows))
        infer_s += time.perf_counter() - t1
        starts.append(window_starts)
        frame_count += windows.shape[0] * windows.shape[1]
        if progress is not None and range_end is not None:
            progress(min(float(window_starts[-1]) + window_s, range_end) - range_start, range_end - range_start)
    all_starts = np.concatenate(starts) if starts else np.empty(0)
    all_probs = np.concatenate(probs) if probs else np.empty((0, len(tagger.labels)), np.float32)
    clip = clip_scores(all_probs)
    scores = {label: round(float(clip[i]), 4) for i, label in enumerate(tagger.labels)}
    windows = []
    for start, row in zip(all_starts, all_probs, strict=True):
        end = start + window_s if range_end is None else min(start + window_s, range_end)
        windows.append({"start": round(float(start), 3), "end": round(float(end), 3),
                        "scores": {label: round(float(p), 4) for label, p in zip(tagger.labels, row, strict=True)}})
    end = range_end if range_end is not None else (windows[-1]["end"] if windows else range_start)
    return {
        "tags": resolve_tags(tagger, scores),
        "scores": scores,
        "windows": windows,
        "duration_s": round(max(0.0, end - range_start), 3),
        "frames": frame_count,
        "timings": {"decode_s": round(decode_s, 4), "infer_s": round(infer_s, 4)},
    }


def tag_video(tagger: Tagger, path, *, start: float | None = None, end: float | None = None, fast: bool = False,
              progress: Callable[[float, float], None] | None = None) -> dict:
    """Tag `path` (or its [start, end) range): clip tags, clip scores and per-window scores."""
    t0 = time.perf_counter()
    range_start = float(start or 0.0)
    file_end = probe_duration(path)
    range_end = file_end if end is None else min(float(end), file_end)
    probe_s = time.perf_counter() - t0
    batches = iter_frame_batches(
        path,
        fps=tagger.frames_per_window / tagger.window_s,
        size=tagger.frame_size,
        start=start,
        end=end,
        batch=WINDOWS_PER_BATCH * tagger.frames_per_window,
        fast=fast,
    )
    result = tag_frames(tagger, batches, range_start=range_start, range_end=range_end, progress=progress)
    result["timings"]["decode_s"] = round(result["timings"]["decode_s"] + probe_s, 4)
    return result
