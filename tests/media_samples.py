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


def huge_frame(path: Path, side: int = 16000) -> Path:
    """One black `side`x`side` PNG frame in Matroska: under a MB on disk, 768 MB once decoded."""
    _ffmpeg("-f", "lavfi", "-i", f"color=black:s={side}x{side}:d=1:r=1", "-frames:v", "1", "-c:v", "png", str(path))
    return path


def growing_frames(path: Path, side: int = 16000) -> Path:
    """A Matroska file whose header and first frame say 64x64 and whose next frames are
    `side`x`side` (PNG frames, each its own size: the container copies them as they are)."""
    small = path.with_suffix(".small.mkv")
    _ffmpeg("-f", "lavfi", "-i", "testsrc=s=64x64:d=1:r=1", "-frames:v", "1", "-c:v", "png", str(small))
    big = huge_frame(path.with_suffix(".big.mkv"), side)
    listing = path.with_suffix(".txt")
    listing.write_text(f"file '{small}'\nfile '{big}'\nfile '{big}'\n")
    _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(path))
    return path


def restarting_timestamps(path: Path, pieces: int = 10, piece_s: float = 2.0) -> Path:
    """`pieces` MPEG-TS files of `piece_s` seconds, each starting at timestamp 0, concatenated byte
    for byte: the timestamps say `piece_s`, the packets hold pieces x piece_s seconds."""
    piece = path.with_suffix(".piece.ts")
    _ffmpeg("-f", "lavfi", "-i", f"testsrc=s=160x120:d={piece_s}:r=25", "-c:v", "libx264", "-preset", "ultrafast",
            "-g", "25", "-f", "mpegts", str(piece))
    path.write_bytes(piece.read_bytes() * pieces)
    return path


def unknown_codec(path: Path) -> Path:
    """A Matroska file whose video track names a codec id no decoder knows (`V_MPEG4/ISO/AVC`
    rewritten in place to a same-length unknown id)."""
    source = lavfi_video(path.with_suffix(".source.mkv"), duration=2.0)
    data = source.read_bytes()
    assert b"V_MPEG4/ISO/AVC" in data
    path.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/AVC", 1))
    return path
