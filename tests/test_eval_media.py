"""models.build.eval_media: the evaluation clips decode to what their ground truth says (length, cuts,
shots), and every true box lies where the picture really is in each frame (the frame predicted from
the picture through the letterbox and the camera motion matches the decoded one)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from models.build import eval_media

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clips():
    """Every clip, from the shared cache (built there once: test_frame_eval uses the same files)."""
    return {clip.truth["name"]: clip for clip in eval_media.eval_clips()}


def _frames(path) -> tuple[list[np.ndarray], list[float]]:
    frames, times = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            times.append(float(frame.time))
    return frames, times


def _predicted(picture: np.ndarray, placement, motion: str, k: int, n: int, width: int, height: int) -> np.ndarray:
    """The frame eval_media's geometry says ffmpeg draws: each output pixel's centre mapped back
    through the motion's crop and the letterbox into the picture (nearest pixel; black outside)."""
    px, py, pw, ph = placement
    z, cx, cy = eval_media._crop(motion, k, n)
    fx = (np.arange(width) + 0.5) / width
    fy = (np.arange(height) + 0.5) / height
    u = ((fx / z + cx) - px) / pw
    v = ((fy / z + cy) - py) / ph
    h, w = picture.shape[:2]
    ix, iy = np.floor(u * w).astype(int), np.floor(v * h).astype(int)
    out = np.zeros((height, width, 3), np.uint8)
    okx, oky = (ix >= 0) & (ix < w), (iy >= 0) & (iy < h)
    out[np.ix_(oky, okx)] = picture[np.ix_(iy[oky], ix[okx])]
    return out


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _coarse_mad(a: np.ndarray, b: np.ndarray, f: int = 4) -> float:
    """Mean absolute difference of 4x4 block means: blind to resampling and coding noise, not to
    a picture shifted or scaled by more than a pixel or two."""
    h, w = a.shape[0] // f * f, a.shape[1] // f * f
    blocks = [x[:h, :w].astype(np.float32).reshape(h // f, f, w // f, f, 3).mean(axis=(1, 3)) for x in (a, b)]
    return float(np.abs(blocks[0] - blocks[1]).mean())


def test_clips_have_the_stated_length_shots_and_cuts(clips):
    assert set(clips) == set(eval_media.CLIPS)
    for name, (path, truth) in clips.items():
        frames, times = _frames(path)
        assert len(frames) == truth["frames"] == truth["frames_each"] * len(truth["shots"]), name
        assert frames[0].shape == (truth["height"], truth["width"], 3)
        assert times[-1] + 1 / truth["fps"] == pytest.approx(truth["duration_s"], abs=1e-3)
        steps = [_mad(a, b) for a, b in zip(frames, frames[1:])]
        cut_frames = [round(c * truth["fps"]) for c in truth["cuts"]]
        assert [s["frames"][0] for s in truth["shots"][1:]] == cut_frames
        jumps = sorted(range(1, len(frames)), key=lambda i: steps[i - 1], reverse=True)[:len(cut_frames)]
        assert sorted(jumps) == cut_frames, name  # the biggest changes are exactly the cuts
        assert max(s for i, s in enumerate(steps, 1) if i not in cut_frames) < min(steps[i - 1] for i in cut_frames) / 2
        for shot in truth["shots"]:
            assert shot["end"] - shot["start"] == pytest.approx(eval_media.SECONDS_EACH)


def test_every_true_box_lies_inside_the_frame_and_matches_its_count(clips):
    for name, (_, truth) in clips.items():
        for frame in range(truth["frames"]):
            shot, _ = eval_media.shot_at(truth, frame)
            for kind in ("people", "faces", "text"):
                boxes = eval_media.boxes_in_frame(truth, frame, kind)
                assert len(boxes) == shot[kind]["count"], (name, frame, kind)  # none pushed out of view
                for x0, y0, x1, y1 in boxes:
                    assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, (name, frame, kind)
        for card in truth["cards"]:
            shot = truth["shots"][card["shot"]]
            assert (card["start"], card["end"]) == (shot["start"], shot["end"])
            assert card["text"] and card["box"][0] <= card["box_first"][0] and card["box_last"][2] <= card["box"][2]
            assert eval_media.card_box(truth, card, shot["frames"][0]) == card["box_first"]
            assert eval_media.card_box(truth, card, shot["frames"][1]) is None  # the next shot's first frame
    people = clips["people-faces"].truth
    assert [s["people"]["count"] for s in people["shots"]] == [1, 1, 1, 2, 3, 0, 0, 0]
    assert [s["faces"]["count"] for s in people["shots"]] == [1, 1, 1, 2, 3, 0, 0, 0]
    texts = [c["text"] for name in ("text-zoom", "text-pan") for c in clips[name].truth["cards"]]
    assert any(t.isupper() for t in texts) and any(not t.isupper() for t in texts) and any(ch.isdigit() for t in texts for ch in t)
    for name in ("text-zoom", "text-pan"):  # each text clip has a shot without text
        assert any(s["text"]["count"] == 0 for s in clips[name].truth["shots"])


def test_boxes_follow_the_picture_through_letterbox_and_motion(clips):
    """The decoded frame is the picture seen through the geometry the boxes are moved with: a wrong
    motion (or none) predicts the frame far worse, so a box off by the motion would be caught."""
    for name, (path, truth) in clips.items():
        frames, _ = _frames(path)
        pictures = eval_media.shot_pictures(eval_media.CLIPS[name])
        n, w, h = truth["frames_each"], truth["width"], truth["height"]
        other = "pan" if truth["motion"] == "zoom" else "zoom"
        for shot, (picture, _) in zip(truth["shots"], pictures):
            for k in (0, n // 2, n - 1):
                frame = frames[shot["frames"][0] + k]
                right = _coarse_mad(frame, _predicted(picture, shot["placement"], truth["motion"], k, n, w, h))
                assert right < 8, (name, shot["photo"], k, right)
                if k == n - 1:
                    wrong = _coarse_mad(frame, _predicted(picture, shot["placement"], other, k, n, w, h))
                    assert wrong > 2 * right, (name, shot["photo"], right, wrong)


def test_text_cards_carry_their_ink_inside_the_box(clips):
    """On a card, pixels of the text's fill colour fill a good part of its box and reach all four
    of its sides: the box is where the text is, and tight around it."""
    for name in ("text-zoom", "text-pan"):
        path, truth = clips[name]
        frames, _ = _frames(path)
        spec = eval_media.CLIPS[name]
        width, height = truth["width"], truth["height"]
        for card in truth["cards"]:
            line = spec.shots[card["shot"]].lines[card["line"]]
            shot = truth["shots"][card["shot"]]
            for frame_index in (shot["frames"][0], shot["frames"][1] - 1):
                x0, y0, x1, y1 = eval_media.card_box(truth, card, frame_index)
                crop = frames[frame_index][int(y0 * height):int(np.ceil(y1 * height)), int(x0 * width):int(np.ceil(x1 * width))]
                ink = np.abs(crop.astype(np.int16) - np.array(line.fill)).sum(axis=2) < 100
                rows, cols = np.nonzero(ink)
                assert ink.mean() > 0.05, (name, card["text"], frame_index)
                assert rows.min() < 0.25 * ink.shape[0] and rows.max() > 0.75 * ink.shape[0], (name, card["text"])
                assert cols.min() < 0.08 * ink.shape[1] and cols.max() > 0.92 * ink.shape[1], (name, card["text"])


def test_a_clip_is_built_once_and_then_reused(tmp_path, clips):
    spec = eval_media.CLIPS["text-pan"]
    first = eval_media.build_clip(spec, cache_dir=tmp_path)
    stamp = first.path.stat().st_mtime_ns
    again = eval_media.build_clip(spec, cache_dir=tmp_path)
    assert again.path == first.path and first.path.stat().st_mtime_ns == stamp
    assert again.truth == first.truth == clips["text-pan"].truth
    assert first.path.read_bytes() == clips["text-pan"].path.read_bytes()  # the build is reproducible
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no partial file left behind
    assert first.path.name == f"text-pan-{first.truth['media_key']}.mp4"
    other = eval_media.ClipSpec("text-pan", spec.motion, spec.shots[:1], spec.features, spec.cards)
    assert other.key() != spec.key()  # another clip, another file
