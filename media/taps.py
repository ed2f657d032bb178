"""More outputs of one decode: frames for the per-frame models (people, faces, text), each at its
own rate and size, from the same ffmpeg run that feeds the tagger.

A `FrameTap` is one more branch of the decode's filter graph (`media.frames.build_command`): the
decoded picture is split, sampled at the tap's rate, scaled so its longer side is at most
`max_side` (aspect kept, never enlarged) and written as raw rgb24 to a pipe of its own (`pipe:N`,
an inherited descriptor). A thread reads that pipe into a list, so ffmpeg never blocks on it;
memory stays bounded because ffmpeg cannot run ahead of the tagger's pipe, which the job reads
only as fast as it consumes (between two of its batches the taps hold at most one batch's time of
frames). The consumer takes what has arrived after each tagger batch (`take`), and the rest when
the decode has ended.

Sampling is on the tagger's grid so that a segment's samples are the whole video's: a tap samples
at `grid_fps` (absolute stamps start + n / grid_fps, segment starts lie on that grid) and keeps
every `every`-th sample by absolute index (a model that wants 0.5 frames/s keeps the even seconds,
whichever segment it is in).
"""

from __future__ import annotations

import os
import threading

import numpy as np

from media.frames import read_exact


def fit(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The (even) size of a `width`x`height` picture scaled down so its longer side is at most
    `max_side`; a smaller picture keeps its size (rounded down to even, as rgb24 scalers want)."""
    if width <= 0 or height <= 0:
        raise ValueError(f"no picture size: {width}x{height}")
    scale = min(1.0, max_side / max(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


class FrameTap:
    """One model's frames from the shared decode: `name` (the feature), the rate it wants, the
    decode's grid rate and the source picture size (from the probe)."""

    def __init__(self, name: str, *, fps: float, max_side: int, grid_fps: float, width: int, height: int):
        if fps <= 0 or grid_fps <= 0:
            raise ValueError("fps and grid_fps must be positive")
        self.name = name
        self.grid_fps = grid_fps
        self.every = max(1, round(grid_fps / fps))  # keep one sample in `every` of the grid
        self.width, self.height = fit(width, height, max_side)
        self.frame_bytes = self.width * self.height * 3
        self._read_fd, self.write_fd = os.pipe()
        self._arrived: list[tuple[float, np.ndarray]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.end: float | None = None
        self.offset = 0.0

    @property
    def output(self) -> str:
        """ffmpeg's name for the pipe this tap reads."""
        return f"pipe:{self.write_fd}"

    def start(self, offset: float, end: float | None) -> None:
        """Read the pipe on a thread (after ffmpeg started with `write_fd` inherited; our copy of
        the write end is closed here, so the reader sees the end when ffmpeg exits)."""
        self.offset, self.end = offset, end
        os.close(self.write_fd)
        self.write_fd = -1
        self._thread = threading.Thread(target=self._read, name=f"tap-{self.name}", daemon=True)
        self._thread.start()

    def _keeps(self, stamp: float) -> bool:
        if self.end is not None and stamp >= self.end - 1e-9:
            return False
        return round(stamp * self.grid_fps) % self.every == 0

    def _read(self) -> None:
        with os.fdopen(self._read_fd, "rb", buffering=0) as pipe:
            index = 0
            while True:
                buf = read_exact(pipe, self.frame_bytes)
                if len(buf) < self.frame_bytes:  # the end (a partial frame is dropped)
                    return
                stamp = round(self.offset + index / self.grid_fps, 6)
                index += 1
                if self._keeps(stamp):
                    frame = np.frombuffer(buf, np.uint8).reshape(self.height, self.width, 3)
                    with self._lock:
                        self._arrived.append((stamp, frame))

    def take(self) -> list[tuple[float, np.ndarray]]:
        """The (stamp, frame) pairs that arrived since the last call."""
        with self._lock:
            arrived, self._arrived = self._arrived, []
        return arrived

    def join(self) -> None:
        """Wait for the pipe's end (ffmpeg has exited or been killed): `take` then has the rest."""
        if self._thread is not None:
            self._thread.join()

    def close(self) -> None:
        """Give up the descriptors of a tap whose decode never started."""
        for fd in (self.write_fd, self._read_fd if self._thread is None else -1):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.write_fd = -1

