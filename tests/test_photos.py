"""models.build.photos: real photos from installed wheels load, and the clips made of them move and cut where they say."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from models.build.photos import PHOTOS, load_photo, make_concat_clip, make_photo_clip


def _grey_frames(path: Path) -> tuple[list[np.ndarray], list[bool], list[float]]:
    frames, keys, times = [], [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="gray").astype(np.int16))
            keys.append(bool(frame.key_frame))
            times.append(float(frame.time))
    return frames, keys, times


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def test_every_photo_loads_as_real_rgb():
    assert set(PHOTOS) == {"cat", "coffee", "motorcycle", "grace_hopper", "astronaut", "rocket", "camera"}
    for name, photo in PHOTOS.items():
        image = photo.load()
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, name
        assert min(image.shape[:2]) >= 256 and max(image.shape[:2]) <= 1024, (name, image.shape)
        assert image.std() > 20, name  # a photograph, not a flat fill
        assert photo.licence and photo.source, name
        assert isinstance(photo.expected, frozenset) and isinstance(photo.allowed, frozenset)
        assert not photo.expected & photo.allowed, name
    camera = PHOTOS["camera"].load()
    assert (camera[:, :, 0] == camera[:, :, 2]).all()  # grey, replicated to RGB
    cat = PHOTOS["cat"].load()
    assert (cat[:, :, 0] != cat[:, :, 2]).mean() > 0.5  # colour
    assert load_photo(cat[:, :, 0]).shape == cat.shape
    with pytest.raises(KeyError):
        load_photo("no-such-photo")


def test_photo_clip_is_h264_of_the_right_length_and_really_moves(tmp_path):
    path = make_photo_clip(tmp_path / "coffee.mp4", "coffee", seconds=3.0)
    data = path.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")  # +faststart: the index comes first
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert (stream.width, stream.height) == (640, 360)
        assert stream.frames == 75
        assert container.duration / 1e6 == pytest.approx(3.0, abs=0.04)
    frames, _, _ = _grey_frames(path)
    assert len(frames) == 75
    steps = [_mad(a, b) for a, b in zip(frames, frames[1:])]
    assert _mad(frames[0], frames[-1]) > 15  # zoom and pan change the picture
    assert max(steps) < 12  # ... gradually: no frame-to-frame jump

    still = make_photo_clip(tmp_path / "still.mp4", "coffee", seconds=1.0, width=320, height=180, motion="none")
    frames, _, _ = _grey_frames(still)
    assert _mad(frames[0], frames[-1]) < 4  # the control: no motion, (almost) no change


def test_concat_clip_cuts_exactly_at_the_returned_times(tmp_path):
    fps, each = 25, 1.8  # cuts off the 2 s GOP grid, so only forcing (or scenecut) puts keyframes there
    path, cuts = make_concat_clip(tmp_path / "three.mp4", ["cat", "rocket", "grace_hopper"], seconds_each=each,
                                  width=320, height=180, fps=fps)
    assert cuts == pytest.approx([1.8, 3.6])
    with av.open(str(path)) as container:
        assert container.duration / 1e6 == pytest.approx(3 * each, abs=1 / fps + 1e-3)
    frames, keys, times = _grey_frames(path)
    assert len(frames) == 3 * round(each * fps)
    cut_frames = [round(t * fps) for t in cuts]
    for k, t in zip(cut_frames, cuts):
        assert times[k] == pytest.approx(t, abs=1e-3)
        assert keys[k], f"no keyframe at the cut at {t}s"
    steps = [_mad(a, b) for a, b in zip(frames, frames[1:])]  # steps[i]: frame i -> i + 1
    across = [steps[k - 1] for k in cut_frames]
    within = [s for i, s in enumerate(steps) if i + 1 not in cut_frames]
    assert min(across) > 25, across
    assert max(within) < 12, max(within)
    assert min(across) > 3 * max(within)


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        make_photo_clip(tmp_path / "odd.mp4", "cat", seconds=1.0, width=321, height=180)
    with pytest.raises(ValueError):
        make_photo_clip(tmp_path / "m.mp4", "cat", seconds=1.0, motion="spin")
    with pytest.raises(ValueError):
        make_concat_clip(tmp_path / "none.mp4", [])
