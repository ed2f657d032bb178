"""Clips for the chaos runs, made once per run folder: short ones rendered by the synthetic clip
generator, and long ones made by looping a short one (ffmpeg `-stream_loop`, streams copied, no
re-encoding), so that a job runs for seconds on the fast synthetic tagger without the harness
rendering minutes of frames. Each distinct seed or length is a distinct file, so no result cache
answers a job that a fault must catch running."""

from __future__ import annotations

import subprocess
from pathlib import Path


def clip(folder: Path, name: str, seed: int, duration_s: float, width: int = 320, height: int = 240) -> Path:
    from models.build.synth import make_clip

    path = folder / f"{name}.mp4"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        make_clip(path, seed=seed, duration_s=duration_s, width=width, height=height)
    return path


def looped(folder: Path, name: str, seed: int, base_s: float, times: int) -> Path:
    """`times` back-to-back copies of a `base_s`-second clip: one video `times * base_s` long."""
    from media.ffmpeg_bin import ffmpeg_binary

    path = folder / f"{name}.mp4"
    if not path.exists():
        base = clip(folder, f"{name}-base", seed, base_s)
        subprocess.run([ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-stream_loop",
                        str(times - 1), "-i", str(base), "-c", "copy", "-movflags", "+faststart", str(path)], check=True)
    return path
