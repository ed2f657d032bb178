"""Tag a video, or a segment of one, streaming frames through the model batch by batch.

Per-window scores are independent of each other, so the windows of several segments can be
concatenated and summarized (`models.tagger.timeline.summarize`) to get the same answer as
tagging the whole file. Frames are sampled at the artifact's rate (`frames_per_window /
window_s`: 1 frame per second for video-tagger@2, from the middle of each second) and
`tagger.batch_windows` windows go through one forward pass (TAGGER_BATCH; 4 on CPU, 64 on CUDA).
Every result says where its time went (`timings`): decode and inference seconds, the frames ffmpeg
decoded and the frames the model was given, and the decode mode (DECODE_MODE, or keyframes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from media.frames import SHOT_FPS, VideoFacts, iter_frame_batches, probe_video
from models.analysis.run import FrameRun
from models.tagger.timeline import shot_cuts

if TYPE_CHECKING:  # the artifact imports this module for its stages: the type only, no import loop
    from models.tagger.artifact import Tagger


@dataclass(frozen=True)
class TagRequest:
    """What to tag: a file, or its [start, end) range; `shots` also scans the range for scene cuts.

    `segment`: the range is one segment of a sharded job. Its shot branch then starts one shot
    sample before `start` (unless the range starts the video, or in `fast` mode), so a cut right at
    the start is seen as the whole-video decode sees it, and its cuts come back unfiltered: the merge
    applies `shot_cuts` over the whole video, so a segment boundary splits no shot and both paths
    report the same shots.

    `frame_models`: (feature, `models.frame_model.FrameModel`) pairs that read the same decode
    (`models.analysis.run`); `labels=False` decodes for them (and the shots) without running the
    tagger.

    `facts`: the stream's header facts as the job's probe found them (`media.probe.VideoInfo.facts`),
    so tagging opens no PyAV container; None (a message of an older API) reads them from the file."""

    path: str
    start: float | None = None
    end: float | None = None
    fast: bool = False
    shots: bool = True
    progress: Callable[[float, float], None] | None = None
    segment: bool = False
    frame_models: tuple = ()
    labels: bool = True
    facts: VideoFacts | None = None

    @property
    def lead_s(self) -> float:
        """How much before `start` the shot branch decodes (see above)."""
        lead = 1.0 / SHOT_FPS
        return lead if self.segment and self.shots and not self.fast and (self.start or 0.0) >= lead else 0.0


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


def untagged(batches: Iterable[tuple[np.ndarray, np.ndarray]], range_start: float, range_end: float,
             progress: Callable[[float, float], None] | None = None) -> dict:
    """`tag_frames`' answer for a job that asked no labels: the decode runs (for the shots and the
    frame models) and no window is scored."""
    started = time.perf_counter()
    for stamps, _ in batches:
        if progress is not None and len(stamps):
            progress(min(float(stamps[-1]) + 1.0, range_end) - range_start, range_end - range_start)
    return {"windows": [], "span": [round(range_start, 3), round(range_end, 3)],
            "duration_s": round(max(0.0, range_end - range_start), 3), "frames": 0,
            "timings": {"decode_s": round(time.perf_counter() - started, 4), "infer_s": 0.0}}


def frame_batches(tagger: Tagger, request: TagRequest, cuts: list | None = None, *, facts: VideoFacts | None = None,
                  stats: dict | None = None, taps: tuple = ()) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The preprocess stage: sampled, resized frames of the range, a batch of windows at a time
    (and, into `cuts`, the scene cuts the same decode finds; into `stats`, what it decoded)."""
    return iter_frame_batches(
        request.path,
        fps=tagger.frames_per_window / tagger.window_s,
        size=tagger.frame_size,
        start=request.start,
        end=request.end,
        batch=tagger.batch_windows * tagger.frames_per_window,
        fast=request.fast,
        cuts=cuts,
        facts=facts,
        stats=stats,
        lead_s=request.lead_s,
        taps=taps,
    )


def tag_request(tagger: Tagger, request: TagRequest) -> dict:
    """Per-window scores of the range (streamed through preprocess and infer), its span, the
    scene cuts inside it (the shots of the result) and where the time went (`timings`)."""
    t0 = time.perf_counter()
    range_start = float(request.start or 0.0)
    facts = request.facts or probe_video(request.path)
    range_end = facts.duration_s if request.end is None else min(float(request.end), facts.duration_s)
    probe_s = time.perf_counter() - t0
    cuts: list[float] | None = [] if request.shots else None
    decoded: dict = {}
    run = FrameRun(dict(request.frame_models), facts, tagger.frames_per_window / tagger.window_s) if request.frame_models else None
    try:
        batches = tagger.preprocess(request, cuts, facts=facts, stats=decoded, taps=run.taps if run else ())
        if run is not None:
            batches = run.around(batches)
        if request.labels:
            result = tag_frames(tagger, batches, range_start=range_start, range_end=range_end, progress=request.progress)
        else:
            result = untagged(batches, range_start, range_end, request.progress)
    finally:
        if run is not None:
            run.close()
    model_s = run.model_s if run is not None else 0.0  # they ran inside the decode's iteration
    result["timings"].update(decode_s=round(result["timings"]["decode_s"] - model_s + probe_s, 4),
                             frames_decoded=decoded.get("frames_decoded"), frames_sampled=result["frames"],
                             decode_mode=decoded.get("decode_mode"))
    if run is not None:
        result["detections"] = run.raw()
        result["timings"]["models"] = run.timings()
    found = cuts or []
    result["cuts"] = (sorted(c for c in found if range_start <= c < range_end) if request.segment
                      else shot_cuts(found, range_start, range_end))
    return result


def tag_file(tagger: Tagger, path, *, start: float | None = None, end: float | None = None, fast: bool = False,
             progress: Callable[[float, float], None] | None = None, shots: bool = True) -> dict:
    """Tag `path` (or its [start, end) range) in process: the per-window scores, the span and cuts,
    and the summary a client sees (tags, scores, timeline, shots), exactly as a worker does."""
    return tagger.handle(TagRequest(str(path), start, end, fast, shots, progress))
