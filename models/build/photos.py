"""Honest test videos from real photographs shipped inside installed wheels (no downloads).

`PHOTOS` names each photo with its source, licence and the tags a tagger should (or may) give it;
`make_photo_clip` turns one still into a slowly moving H.264 mp4 (ffmpeg zoompan, "Ken Burns");
`make_concat_clip` puts several such shots one after another with hard cuts at known times.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from media.ffmpeg_bin import ffmpeg_binary

__all__ = ["MOTIONS", "PHOTOS", "Photo", "load_photo", "make_concat_clip", "make_photo_clip"]

MOTIONS = ("zoom", "pan", "none")
_ZOOM = 0.15  # the zoom-in over a shot: 1.0 -> 1.15
_UPSCALE = 2  # zoompan works on a 2x canvas so its integer crop offsets do not visibly jitter


@dataclass(frozen=True)
class Photo:
    """A real photo: where it comes from, its licence, how to load it, and the tags it warrants."""

    name: str
    source: str
    licence: str
    load: Callable[[], np.ndarray]
    expected: frozenset[str]
    allowed: frozenset[str]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _rgb(image: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 RGB from a uint8 grey, RGB or RGBA array."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected HxW, HxWx3 or HxWx4, got shape {image.shape}")
    return np.ascontiguousarray(image[:, :, :3])


def _skimage(func: str, index: int | None = None) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        image = getattr(data, func)()
        return _rgb(image if index is None else image[index])

    return load


def _matplotlib_sample(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from matplotlib import cbook
        from PIL import Image

        with Image.open(cbook.get_sample_data(filename, asfileobj=False)) as im:
            return _rgb(np.asarray(im.convert("RGB")))

    return load


_SK = f"scikit-image {_version('scikit-image')} skimage.data"
_MPL = f"matplotlib {_version('matplotlib')} mpl-data/sample_data"


def _photo(name: str, source: str, licence: str, load: Callable[[], np.ndarray], expected: set[str], allowed: set[str]) -> Photo:
    return Photo(name, source, licence, load, frozenset(expected), frozenset(allowed))


#: Licences are quoted from the skimage.data docstrings and the files themselves; where the wheel
#: states none, the entry says so.
PHOTOS: dict[str, Photo] = {
    p.name: p
    for p in (
        _photo("cat", f"{_SK}.chelsea", "CC0 by the photographer (Stefan van der Walt); 'No copyright restrictions'",
               _skimage("chelsea"), {"Cat", "Pet", "Animal"}, {"Indoor"}),
        _photo("coffee", f"{_SK}.coffee", "CC0 by the photographer (Rachel Michetti), courtesy of Pikolo Espresso Bar; "
               "'No copyright restrictions'", _skimage("coffee"), {"Drink", "Food"}, {"Indoor", "Kitchen", "Dish"}),
        _photo("motorcycle", f"{_SK}.stereo_motorcycle()[0]", "not stated in the wheel: Middlebury 2014 stereo benchmark "
               "(Scharstein et al., GCPR 2014), down-sampled 4x by scikit-image",
               _skimage("stereo_motorcycle", 0), {"Motorcycle", "Vehicle"}, {"Outdoor", "Indoor", "Street"}),
        _photo("grace_hopper", f"{_MPL}/grace_hopper.jpg", "not stated in the wheel (sample_data/README.txt gives no "
               "licence); the JPEG comment names http://commons.wikimedia.org/wiki/File:Grace_Hopper.jpg as its source",
               _matplotlib_sample("grace_hopper.jpg"), {"Person"}, {"Indoor"}),
        _photo("astronaut", f"{_SK}.astronaut", "public domain: NASA Great Images database (Eileen Collins); "
               "'No known copyright restrictions, released into the public domain'",
               _skimage("astronaut"), {"Person"}, {"Outdoor", "Sport", "Fitness", "Indoor"}),
        _photo("rocket", f"{_SK}.rocket", "public domain: SpaceX launch photo of DSCOVR on Falcon 9, 'released in the public domain'",
               _skimage("rocket"), {"Aircraft", "Vehicle"}, {"Outdoor", "Building"}),
        _photo("camera", f"{_SK}.camera (grey, as RGB)", "CC0 by the photographer (Lav Varshney); 'No copyright restrictions'",
               _skimage("camera"), set(), {"Outdoor", "Person", "Nature", "Building"}),
    )
}


def load_photo(photo: str | np.ndarray) -> np.ndarray:
    """A photo by `PHOTOS` name, or an image array, as uint8 HxWx3 RGB."""
    if isinstance(photo, str):
        if photo not in PHOTOS:
            raise KeyError(f"unknown photo {photo!r}; known: {sorted(PHOTOS)}")
        return PHOTOS[photo].load()
    return _rgb(photo)


def _shot_filter(label: str, out: str, frames: int, width: int, height: int, fps: int, motion: str) -> str:
    """Filter chain: letterbox one still onto a 2x canvas, then `frames` frames of camera motion."""
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {MOTIONS}, got {motion!r}")
    cw, ch = width * _UPSCALE, height * _UPSCALE
    t = f"(on/{max(frames - 1, 1)})"  # 0 -> 1 over the shot
    if motion == "zoom":
        zoom, x = f"1+{_ZOOM}*{t}", f"(iw-iw/zoom)*(0.4+0.2*{t})"  # zoom in, drift slightly right
    elif motion == "pan":
        zoom, x = f"{1 + _ZOOM}", f"(iw-iw/zoom)*{t}"  # zoomed in, pan left to right
    else:
        zoom, x = "1", "0"
    return (
        f"[{label}]scale={cw}:{ch}:force_original_aspect_ratio=decrease:flags=bicubic,"
        f"pad={cw}:{ch}:(ow-iw)/2:(oh-ih)/2,setsar=1,"
        f"zoompan=z='{zoom}':x='{x}':y='(ih-ih/zoom)/2':d={frames}:s={width}x{height}:fps={fps},format=yuv420p[{out}]"
    )


def _encode(path: str | Path, images: Sequence[np.ndarray], frames_each: int, width: int, height: int, fps: int,
            motion: str, key_frames: Sequence[int] = ()) -> Path:
    if width % 2 or height % 2 or width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive and even (yuv420p), got {width}x{height}")
    if frames_each < 1 or fps <= 0:
        raise ValueError("a shot needs at least one frame and a positive fps")
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="photos-") as tmp:
        inputs: list[str] = []
        chains: list[str] = []
        for i, image in enumerate(images):
            raw = Path(tmp) / f"{i}.rgb"
            image.tofile(raw)
            h, w = image.shape[:2]
            inputs += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{w}x{h}", "-i", str(raw)]
            chains.append(_shot_filter(f"{i}:v", f"s{i}", frames_each, width, height, fps, motion))
        n = len(images)
        graph = ";".join(chains) + ";" + "".join(f"[s{i}]" for i in range(n)) + f"concat=n={n}:v=1:a=0[v]"
        forced = ["-force_key_frames", "expr:" + "+".join(f"eq(n,{k})" for k in key_frames)] if key_frames else []
        cmd = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-protocol_whitelist", "file,pipe",
               *inputs, "-filter_complex", graph, "-map", "[v]", "-r", str(fps), "-frames:v", str(n * frames_each),
               "-c:v", "libx264", "-preset", "veryfast", "-g", str(2 * fps), "-pix_fmt", "yuv420p", *forced,
               "-movflags", "+faststart", str(path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return path


def make_photo_clip(path: str | Path, photo: str | np.ndarray, *, seconds: float = 6.0, width: int = 640, height: int = 360,
                    fps: int = 25, motion: str = "zoom") -> Path:
    """An H.264 mp4 of one still (a `PHOTOS` name or an image array) with slow camera motion.

    motion: "zoom" (1.0 -> 1.15 with a slight pan), "pan" (left to right at 1.15x) or "none".
    The clip has round(seconds * fps) frames.
    """
    frames = round(seconds * fps)
    return _encode(path, [load_photo(photo)], frames, width, height, fps, motion)


def make_concat_clip(path: str | Path, names: Sequence[str | np.ndarray], *, seconds_each: float = 5.0, width: int = 640,
                     height: int = 360, fps: int = 25, motion: str = "zoom") -> tuple[Path, list[float]]:
    """The photos one after another, each a moving still, joined by hard cuts in one ffmpeg run.

    Returns the mp4 and the cut times in seconds, k * round(seconds_each * fps) / fps for k = 1..n-1
    (= k * seconds_each when that is a whole number of frames); a keyframe is forced at each cut.
    """
    if not names:
        raise ValueError("make_concat_clip needs at least one photo")
    frames_each = round(seconds_each * fps)
    key_frames = [k * frames_each for k in range(1, len(names))]
    out = _encode(path, [load_photo(n) for n in names], frames_each, width, height, fps, motion, key_frames)
    return out, [k / fps for k in key_frames]
