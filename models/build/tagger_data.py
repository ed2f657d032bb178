"""Training windows: generated clips rendered to H.264 mp4, decoded once, kept in memory.

Frames are decoded at twice the inference rate, so windows can start every half-step (twice the
distinct windows from the same video, motion still measured over the inference frame spacing).
The mp4 is deleted once decoded; only the uint8 frames stay.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media.frames import iter_frame_batches
from models.build.synth import GroundTruth, make_clip, random_scenes
from models.build.tagger_eval import FRAME_SIZES, window_labels

OVERSAMPLE = 2


@dataclass
class DecodedClip:
    stamps: np.ndarray  # float64 [N]
    frames: np.ndarray  # uint8 [N, S, S, 3]
    gt: GroundTruth


@dataclass
class Windows:
    """Window i is frames[first[i] + k * stride] for k < T, labelled y[i]."""

    frames: np.ndarray
    first: np.ndarray
    y: np.ndarray
    stride: int
    frames_per_window: int

    def __len__(self) -> int:
        return len(self.first)

    def batch(self, index: np.ndarray) -> np.ndarray:
        offsets = np.arange(self.frames_per_window) * self.stride
        return self.frames[self.first[index, None] + offsets[None, :]]


def render_and_decode(seed: int, clip_s: float, size: int, decode_fps: float, min_scene_s: float,
                      max_scene_s: float, folder: str, frame_size: tuple[int, int]) -> DecodedClip:
    path = Path(folder) / f"train-{seed}.mp4"
    width, height = frame_size
    gt = make_clip(path, seed=seed, scenes=random_scenes(seed, clip_s, min_scene_s, max_scene_s), width=width,
                   height=height)
    stamps, frames = zip(*iter_frame_batches(path, fps=decode_fps, size=size, batch=64), strict=True)
    path.unlink()
    return DecodedClip(np.concatenate(stamps), np.concatenate(frames), gt)


def decode_clips(seeds: list[int], *, clip_s: float, size: int, decode_fps: float, min_scene_s: float = 1.5,
                 max_scene_s: float = 4.0, workers: int = 2) -> list[DecodedClip]:
    """Render (FRAME_SIZES in turn) and decode one clip per seed, `workers` clips at a time."""
    with tempfile.TemporaryDirectory(prefix="tagger-train-") as folder, ProcessPoolExecutor(workers) as pool:
        jobs = [pool.submit(render_and_decode, seed, clip_s, size, decode_fps, min_scene_s, max_scene_s, folder,
                            FRAME_SIZES[i % len(FRAME_SIZES)])
                for i, seed in enumerate(seeds)]
        return [job.result() for job in jobs]


def build_windows(clips: list[DecodedClip], labels: list[str], *, frames_per_window: int, window_s: float
                  ) -> Windows:
    """Every window that lies inside one scene, starting at every decoded frame."""
    stride = OVERSAMPLE
    span = (frames_per_window - 1) * stride
    all_frames, firsts, ys, offset = [], [], [], 0
    for clip in clips:
        starts = np.arange(len(clip.stamps) - span)
        y, inside = window_labels(clip.gt, clip.stamps[starts], window_s, labels)
        firsts.append(starts[inside] + offset)
        ys.append(y[inside])
        all_frames.append(clip.frames)
        offset += len(clip.frames)
    return Windows(np.concatenate(all_frames), np.concatenate(firsts), np.concatenate(ys), stride, frames_per_window)
