"""Plain helpers shared by the media and tagger tests: generated clips (rendered once per test
session into a private temp folder), the shipped model store, and damaged copies of files."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from brigade.settings import ROOT
from models.build.synth import GroundTruth, Scene, make_clip, random_scenes

SHIPPED_STORE = ROOT / "models" / "store"
TAGGER = "synth-tagger"

_clip_dir = Path(tempfile.mkdtemp(prefix="brigade-test-clips-"))
atexit.register(shutil.rmtree, _clip_dir, ignore_errors=True)


@cache
def clip(seed: int, duration_s: float = 6.0, *, cuts: bool = False, width: int = 320, height: int = 240,
         min_scene_s: float = 3.0, max_scene_s: float = 6.0) -> tuple[Path, GroundTruth]:
    """A generated clip (one random scene, or several with `cuts`), rendered once per session."""
    path = _clip_dir / f"clip-{seed}-{duration_s}-{int(cuts)}-{width}x{height}-{min_scene_s}-{max_scene_s}.mp4"
    scenes = random_scenes(seed, duration_s, min_scene_s, max_scene_s) if cuts else None
    return path, make_clip(path, seed=seed, duration_s=duration_s, scenes=scenes, width=width, height=height)


@cache
def scenes_clip(*scenes: Scene, seed: int = 0) -> tuple[Path, GroundTruth]:
    """A clip of exactly these scenes, rendered once per session."""
    path = _clip_dir / f"scenes-{seed}-{abs(hash(scenes))}.mp4"
    return path, make_clip(path, seed=seed, scenes=list(scenes))


def truncated_copy(src: Path, dst: Path, keep: float) -> Path:
    """`dst` holding the first `keep` fraction of `src`'s bytes (an interrupted upload)."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep)])
    return Path(dst)


def copy_store(dst: Path) -> Path:
    """A private copy of the shipped tagger artifact(s): tests may damage it freely."""
    shutil.copytree(SHIPPED_STORE / TAGGER, Path(dst) / TAGGER)
    return Path(dst)


def flip_byte(path: Path, offset: int = 1000) -> None:
    data = bytearray(Path(path).read_bytes())
    data[offset] ^= 0xFF
    Path(path).write_bytes(bytes(data))
