"""Small hostile or out-of-limit media made with the real ffmpeg (lavfi sources: instant)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from media.ffmpeg_bin import ffmpeg_binary
from tests.fixtures_media import truncated_copy


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_binary(), "-y", "-v", "error", *args], check=True, timeout=120)


def lavfi_video(path: Path, *, size: str = "160x120", rate: float = 10, duration: float = 4.0, faststart: bool = False) -> Path:
    extra = ["-movflags", "+faststart"] if faststart else []
    _ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={duration}",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *extra, str(path))
    return path


def audio_only(path: Path) -> Path:
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac", str(path))
    return path


def truncated(path: Path) -> Path:
    """An mp4 cut in half, index up front (so its header still parses)."""
    full = lavfi_video(path.with_suffix(".full.mp4"), duration=6.0, faststart=True)
    return truncated_copy(full, path, keep=0.5)


def corrupt_middle(path: Path, *, duration: float = 30.0, size: str = "160x120") -> Path:
    """A valid mp4 whose middle tenth (45-55 % of its bytes) is overwritten with noise: the index,
    the beginning and the end stay intact."""
    lavfi_video(path, size=size, duration=duration)
    data = bytearray(path.read_bytes())
    start, end = int(len(data) * 0.45), int(len(data) * 0.55)
    import random

    rng = random.Random(7)
    data[start:end] = bytes(rng.getrandbits(8) for _ in range(end - start))
    path.write_bytes(bytes(data))
    return path
