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


def scene_cut_command(path: str, threshold: float, window: tuple[float, float] | None = None) -> list[str]:
    """ffmpeg argv printing (showinfo) each keyframe whose scene score passes `threshold`; with a
    `window`, only that stretch is decoded (input seek), timestamps kept absolute (`-copyts`)."""
    in_opts = dict(input_options(), skip_frame="nokey", threads=get_settings().FFMPEG_THREADS)
    if window:
        in_opts.update(ss=f"{window[0]:.3f}", t=f"{window[1] - window[0]:.3f}")
    stream = (
        ffmpeg.input(str(path), **in_opts)
        .filter("scale", 96, -2)
        .filter("select", f"gt(scene,{threshold})")
        .filter("showinfo")
    )
    args = ["-nostdin", "-hide_banner", "-loglevel", "info"] + (["-copyts"] if window else [])
    return stream.output("-", format="null", fps_mode="passthrough").global_args(*args).compile(cmd=ffmpeg_binary())


def detect_cuts(path: str, threshold: float | None = None, windows: list[tuple[float, float]] | None = None,
                timeout_s: float = 300.0) -> list[float]:
    """Times (seconds) where a new scene starts, in order: in the whole video, or only inside
    `windows` (one short ffmpeg run each)."""
    threshold = get_settings().SCENE_THRESHOLD if threshold is None else threshold
    found: set[float] = set()
    for window in windows if windows is not None else [None]:
        proc = subprocess.run(scene_cut_command(path, threshold, window), capture_output=True, text=True, timeout=timeout_s)
        if proc.returncode != 0:
            raise SceneDetectionError(f"scene detection failed: {proc.stderr[-1000:]}")
        times = (_PTS.search(line) for line in proc.stderr.splitlines() if "Parsed_showinfo" in line)
        # The first frame of a window has no predecessor in it: never a cut.
        found |= {round(float(m.group(1)), 3) for m in times if m and (window is None or float(m.group(1)) > window[0] + 1e-3)}
    return sorted(found)
