"""Scene cuts from ffmpeg's scene score, computed on keyframes only.

Encoders put a keyframe at a hard cut (x264's scenecut), so decoding keyframes alone finds the cuts
at a small fraction of a full decode's cost: this keeps the planner's share of a sharded job small.
"""

from __future__ import annotations

import re
import subprocess

import ffmpeg

from brigade.settings import get_settings
from media.ffmpeg_bin import ffmpeg_binary, input_options

_PTS = re.compile(r"pts_time:\s*([0-9.]+)")


class SceneDetectionError(RuntimeError):
    pass


def scene_cut_command(path: str, threshold: float, windows: list[tuple[float, float]] | None = None) -> list[str]:
    """One ffmpeg run printing (showinfo) each keyframe whose scene score passes `threshold`, over the
    whole video or over each window: one input per window (input seek, so only the window is read),
    all in one process, which decodes the inputs in parallel; `-copyts` keeps times absolute."""
    base = dict(input_options(), skip_frame="nokey", skip_loop_filter="all", threads=get_settings().FFMPEG_THREADS)
    inputs = [ffmpeg.input(str(path), **base)] if windows is None else [
        ffmpeg.input(str(path), ss=f"{a:.3f}", t=f"{b - a:.3f}", **base) for a, b in windows]
    # eq(n,0): every stream passes its first frame, or ffmpeg fails on an output stream with none.
    streams = [i.filter("scale", 96, -2).filter("select", f"eq(n,0)+gt(scene,{threshold})").filter("showinfo")
               for i in inputs]
    args = ["-nostdin", "-hide_banner", "-loglevel", "info"] + ([] if windows is None else ["-copyts"])
    return ffmpeg.output(*streams, "-", format="null", fps_mode="passthrough").global_args(*args).compile(cmd=ffmpeg_binary())


def detect_cuts(path: str, threshold: float | None = None, windows: list[tuple[float, float]] | None = None,
                timeout_s: float = 300.0) -> list[float]:
    """Times (seconds) where a new scene starts, in order: in the whole video, or only inside `windows`."""
    threshold = get_settings().SCENE_THRESHOLD if threshold is None else threshold
    if windows is not None and not windows:
        return []
    proc = subprocess.run(scene_cut_command(path, threshold, windows), capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise SceneDetectionError(f"scene detection failed: {proc.stderr[-1000:]}")
    times = [float(m.group(1)) for line in proc.stderr.splitlines()
             if "Parsed_showinfo" in line and (m := _PTS.search(line))]
    # A stream's first frame is passed unconditionally (and has no predecessor to differ from).
    firsts = {min((t for t in times if a - 1e-3 <= t < b), default=None) for a, b in windows or [(0.0, float("inf"))]}
    return sorted({round(t, 3) for t in times if t not in firsts})
