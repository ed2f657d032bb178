"""Scene cuts from ffmpeg's scene score, computed on keyframes only.

Encoders put a keyframe at a hard cut (x264's scenecut), so decoding keyframes alone finds the cuts
at a small fraction of a full decode's cost: this keeps the planner's share of a sharded job small.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

import ffmpeg

from brigade.settings import get_settings
from media.ffmpeg_bin import ffmpeg_binary, input_options
from media.probe import ProbeError, open_media, start_of

#: At most this many ffmpeg runs at once by default (each holds a decoder and its buffers).
MAX_PROCESSES = 8
_PTS = re.compile(r"pts_time:\s*([0-9.]+)")


class SceneDetectionError(RuntimeError):
    pass


def scene_cut_command(path: str, threshold: float, windows: list[tuple[float, float]] | None = None) -> list[str]:
    """One ffmpeg run printing (showinfo) each keyframe whose scene score passes `threshold`, over the
    whole video or over each window: one input per window (input seek, so only the window is read),
    decoded one after another; `-copyts` prints the file's own times (`detect_cuts` subtracts the
    file's start, which MPEG-TS puts at 1.4 s or so, where `-ss` counts from)."""
    base = dict(input_options(path), skip_frame="nokey", skip_loop_filter="all", threads=get_settings().FFMPEG_THREADS)
    inputs = [ffmpeg.input(str(path), **base)] if windows is None else [
        ffmpeg.input(str(path), ss=f"{a:.3f}", t=f"{b - a:.3f}", **base) for a, b in windows]
    # eq(n,0): every stream passes its first frame, or ffmpeg fails on an output stream with none.
    streams = [i.filter("scale", 96, -2).filter("select", f"eq(n,0)+gt(scene,{threshold})").filter("showinfo")
               for i in inputs]
    args = ["-nostdin", "-hide_banner", "-loglevel", "info", "-copyts"]
    return ffmpeg.output(*streams, "-", format="null", fps_mode="passthrough").global_args(*args).compile(cmd=ffmpeg_binary())


def _file_start(path: str) -> float:
    try:
        with open_media(path) as container:
            return start_of(container)
    except ProbeError as exc:
        raise SceneDetectionError(f"cannot read the start time: {exc.detail}") from exc


def detect_cuts(path: str, threshold: float | None = None, windows: list[tuple[float, float]] | None = None,
                timeout_s: float = 300.0, processes: int | None = None, *, start_s: float | None = None) -> list[float]:
    """Times (seconds) where a new scene starts, in order: in the whole video, or only in `windows`.

    Windows are dealt out to `processes` ffmpeg runs at once (default: two per core this process
    may use, so the kernel evens out windows of uneven cost, up to MAX_PROCESSES): one ffmpeg
    decodes its inputs one after another, and the shard workers are idle while the planner runs,
    so the cores are free. `start_s` is the file's start time when the caller has it already (the
    packet index does); without it the file is opened once more to read it."""
    threshold = get_settings().SCENE_THRESHOLD if threshold is None else threshold
    if windows is not None and not windows:
        return []
    if windows is None:
        groups = [None]
    else:
        count = max(1, min(len(windows), processes or min(MAX_PROCESSES, 2 * len(os.sched_getaffinity(0)))))
        groups = [windows[i::count] for i in range(count)]
    runs = [subprocess.Popen(scene_cut_command(path, threshold, group), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for group in groups]
    deadline = time.monotonic() + timeout_s
    try:
        logs = [run.communicate(timeout=max(0.0, deadline - time.monotonic()))[1] for run in runs]
    except subprocess.TimeoutExpired as exc:
        raise SceneDetectionError(f"scene detection took over {timeout_s:g} s") from exc
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    for run, log in zip(runs, logs, strict=True):
        if run.returncode != 0:
            raise SceneDetectionError(f"scene detection failed: {log[-1000:]}")
    cuts: set[float] = set()
    # `-copyts` times are the file's own; windows and results count from its start
    start = _file_start(path) if start_s is None else start_s
    for group, log in zip(groups, logs, strict=True):
        times = [float(m.group(1)) for line in log.splitlines() if "Parsed_showinfo" in line and (m := _PTS.search(line))]
        # A stream's first frame is passed unconditionally (and has no predecessor to differ from).
        firsts = {min((t for t in times if a + start - 1e-3 <= t < b + start), default=None)
                  for a, b in group or [(0.0, float("inf"))]}
        cuts |= {round(t - start, 3) for t in times if t not in firsts}
    return sorted(cuts)
