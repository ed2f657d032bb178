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


def scene_cut_command(path: str, threshold: float) -> list[str]:
    stream = (
        ffmpeg.input(str(path), skip_frame="nokey", **input_options())
        .filter("scale", 96, -2)
        .filter("select", f"gt(scene,{threshold})")
        .filter("showinfo")
    )
    out = stream.output("-", format="null", fps_mode="passthrough", threads=get_settings().FFMPEG_THREADS)
    return out.global_args("-nostdin", "-hide_banner", "-loglevel", "info").compile(cmd=ffmpeg_binary())


def detect_cuts(path: str, threshold: float | None = None, timeout_s: float = 300.0) -> list[float]:
    """Times (seconds) where a new scene starts, in order."""
    threshold = get_settings().SCENE_THRESHOLD if threshold is None else threshold
    proc = subprocess.run(scene_cut_command(path, threshold), capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise SceneDetectionError(f"scene detection failed: {proc.stderr[-1000:]}")
    times = (_PTS.search(line) for line in proc.stderr.splitlines() if "Parsed_showinfo" in line)
    return sorted({round(float(m.group(1)), 3) for m in times if m})
