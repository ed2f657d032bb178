"""Stream sampled RGB frames out of a video through ffmpeg, a fixed-size batch at a time.

ffmpeg resamples to `fps` and scales to `size`x`size` (aspect ratio is not kept: the tagger sees
the whole picture), and writes raw rgb24 to a pipe. We read exactly one batch of bytes at a time,
so memory stays flat however long the video is. `start`/`end` become input options (`-ss`/`-t`
before `-i`): ffmpeg seeks to the keyframe before `start` and decodes only that range.

The frame stamped `t` covers [t, t + 1/fps): ffmpeg's fps filter fills slot k with the last source
frame before (k + 0.5)/fps, i.e. a frame from the middle of that window. `-xerror` makes ffmpeg
exit non-zero on a corrupt packet, so a truncated file raises instead of silently ending early.
`fast=True` decodes keyframes only; the fps filter then repeats each keyframe until the next one.
"""

from __future__ import annotations

import collections
import subprocess
import threading
from collections.abc import Iterator

import ffmpeg
import numpy as np

from brigade.settings import get_settings
from media.ffmpeg_bin import ffmpeg_binary, input_options
from media.probe import ProbeError, duration_of, open_media

STDERR_TAIL_LINES = 20


class DecodeError(RuntimeError):
    """ffmpeg could not decode the input (missing, truncated, corrupt, or no frames in range)."""


def _drain(stream, tail: collections.deque) -> None:
    """Keep the last lines of ffmpeg's stderr; reading it stops ffmpeg blocking on a full pipe."""
    for line in iter(stream.readline, b""):
        tail.append(line.decode("utf-8", "replace").rstrip())
    stream.close()


def _read_exact(stream, size: int) -> bytearray:
    """Up to `size` bytes: fewer only at end of stream."""
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = stream.readinto(view[got:])
        if not n:
            break
        got += n
    del view
    del buf[got:]
    return buf


def build_command(path: str, *, fps: float, size: int, start: float | None, end: float | None, fast: bool) -> list[str]:
    """The ffmpeg argv that writes `size`x`size` rgb24 frames at `fps` to stdout."""
    settings = get_settings()
    in_opts = dict(input_options(), threads=settings.FFMPEG_THREADS)
    if start:
        in_opts["ss"] = f"{start:.6f}"
    if end is not None:
        duration = end - (start or 0.0)
        if duration <= 0:
            raise ValueError(f"empty range: start={start} end={end}")
        in_opts["t"] = f"{duration:.6f}"
    if fast:
        in_opts["skip_frame"] = "nokey"
    stream = (
        ffmpeg.input(str(path), **in_opts)
        .filter("fps", fps=fps)
        .filter("scale", size, size, flags="area")
        .output("pipe:", format="rawvideo", pix_fmt="rgb24", an=None, sn=None, dn=None)
        .global_args("-nostdin", "-hide_banner", "-loglevel", "error", "-xerror", "-filter_threads", "1")
    )
    return stream.compile(cmd=ffmpeg_binary())


def iter_frame_batches(
    path,
    *,
    fps: float = 1.0,
    size: int = 128,
    start: float | None = None,
    end: float | None = None,
    batch: int = 16,
    fast: bool = False,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (timestamps_s float64 [B], frames uint8 [B, size, size, 3]) until the range ends.

    Timestamps are absolute in the file. Raises DecodeError when ffmpeg fails or yields no frame;
    ffmpeg is killed if the consumer stops iterating early.
    """
    if fps <= 0 or size <= 0 or batch <= 0:
        raise ValueError("fps, size and batch must be positive")
    cmd = build_command(path, fps=fps, size=size, start=start, end=end, fast=fast)
    frame_bytes = size * size * 3
    offset = float(start or 0.0)
    tail: collections.deque = collections.deque(maxlen=STDERR_TAIL_LINES)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise DecodeError(f"cannot start ffmpeg: {exc}") from exc
    drainer = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
    drainer.start()
    produced = 0
    try:
        while True:
            buf = _read_exact(proc.stdout, batch * frame_bytes)
            count = len(buf) // frame_bytes
            stamps = offset + (produced + np.arange(count, dtype=np.float64)) / fps
            past_end = end is not None and count > 0 and stamps[-1] >= end - 1e-9
            if past_end:  # keyframe-only decoding can overshoot the range by a frame
                stamps = stamps[stamps < end - 1e-9]
            if len(stamps):
                frames = np.frombuffer(buf, np.uint8, len(stamps) * frame_bytes).reshape(-1, size, size, 3)
                produced += len(stamps)
                yield stamps, frames
            if past_end and produced:
                return  # the finally clause stops ffmpeg
            if count < batch:
                break
        returncode = proc.wait()
        drainer.join(timeout=5)
        if returncode != 0 or produced == 0:
            reason = f"ffmpeg exited with {returncode}" if returncode else "no frames decoded"
            raise DecodeError(f"{path}: {reason}: " + " | ".join(tail))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def probe_duration(path) -> float:
    """Container duration in seconds, read in-process from the header (PyAV: milliseconds, where
    starting an ffmpeg just to print its header dump costs tens of milliseconds per tagging call)."""
    try:
        with open_media(path) as container:
            duration = duration_of(container)
    except ProbeError as exc:
        raise DecodeError(f"{path}: cannot read duration: {exc.detail}") from exc
    if duration <= 0:
        raise DecodeError(f"{path}: cannot read duration: the header names none")
    return duration
