"""Render scenes to a real H.264 mp4: numpy frames piped into ffmpeg's libx264."""

from __future__ import annotations

import subprocess
from pathlib import Path

import ffmpeg
import numpy as np

from media.ffmpeg_bin import ffmpeg_binary
from models.build.synth.painter import SceneRenderer
from models.build.synth.scenes import GroundTruth, Scene, ground_truth, random_scene

FRAMES_PER_WRITE = 16


def encoder_command(path: Path, *, width: int, height: int, fps: float, keyframe_s: float = 2.0) -> list[str]:
    """libx264 at a web-typical GOP (a keyframe every `keyframe_s`, plus one at each scene cut)."""
    stream = ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}", r=fps).output(
        str(path),
        vcodec="libx264",
        preset="veryfast",
        crf=23,
        pix_fmt="yuv420p",
        g=max(1, round(keyframe_s * fps)),
        threads=1,
        movflags="+faststart",
    )
    return stream.global_args("-nostdin", "-hide_banner", "-loglevel", "error", "-y").compile(cmd=ffmpeg_binary())


def iter_frames(gt: GroundTruth):
    """Yield the clip's frames in order (uint8 [H, W, 3])."""
    for index, (start, end, scene) in enumerate(gt.scenes):
        rng = np.random.default_rng([gt.seed, index, scene.look])
        renderer = SceneRenderer(scene, rng, gt.height, gt.width)
        first, last = round(start * gt.fps), round(end * gt.fps)
        for frame_index in range(first, last):
            yield renderer.frame(frame_index / gt.fps - start, frame_index)


def make_clip(
    path,
    *,
    seed: int,
    duration_s: float = 8.0,
    scenes: list[Scene] | None = None,
    width: int = 320,
    height: int = 240,
    fps: float = 10,
) -> GroundTruth:
    """Render `scenes` (default: one random scene of `duration_s`) to `path`; return the truth.

    Given `scenes`, their own durations set the length and `duration_s` is ignored. Deterministic
    in `seed` (and the scenes' `look`).
    """
    if width % 2 or height % 2:
        raise ValueError("width and height must be even (yuv420p)")
    if scenes is None:
        scenes = [random_scene(np.random.default_rng([seed, 0xC11]), duration_s)]
    gt = ground_truth(list(scenes), fps=fps, width=width, height=height, seed=seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        encoder_command(path, width=width, height=height, fps=fps),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        chunk = []
        for frame in iter_frames(gt):
            chunk.append(frame)
            if len(chunk) == FRAMES_PER_WRITE:
                proc.stdin.write(np.stack(chunk).tobytes())
                chunk.clear()
        if chunk:
            proc.stdin.write(np.stack(chunk).tobytes())
        proc.stdin.close()
        err = proc.stderr.read().decode("utf-8", "replace")
        if proc.wait() != 0:
            raise RuntimeError(f"ffmpeg could not encode {path}: {err.strip()[-2000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return gt
