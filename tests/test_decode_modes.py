"""DECODE_MODE: the sampled decode (what no sampled frame needs is not decoded) against the full one,
on the evaluation set's real photographs, held to the noise floor of a one-frame shift; and the
timings every result carries. The new way of tagging (sampled decode, the network on ONNX Runtime)
is held against today's (full decode, TorchScript), as bench/bench_decode.py measures them."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import media.frames as frames_module
from media.decode_modes import FULL, SAMPLED, decoder_options
from media.ffmpeg_bin import ffmpeg_binary
from media.frames import SHOT_FPS, iter_frame_batches
from models import registry
from models.build.agreement import compare, one_frame_later
from models.build.photos import PHOTOS, make_concat_clip
from models.build.tagger import NAME
from models.tagger import artifact
from models.tagger.inference import TagRequest
from tests.appkit import settings_with
from tests.fixtures_media import SHIPPED_STORE

SHOT_S = 4.0


@contextmanager
def decode_mode(mode: str):
    """The decoder reads DECODE_MODE=`mode` for the block."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frames_module, "get_settings", lambda: settings_with(DECODE_MODE=mode))
        yield


@pytest.fixture(scope="module")
def taggers() -> dict:
    """runtime -> the shipped tagger on it."""
    path = SHIPPED_STORE / NAME / "2.0.0"
    manifest = registry.verify(path)
    return {runtime: artifact.load(path, manifest, runtime=runtime) for runtime in ("onnx", "torchscript")}


@pytest.fixture(scope="module")
def tagger(taggers):
    return taggers["torchscript"]


@pytest.fixture(scope="module")
def reel(tmp_path_factory) -> tuple[Path, list[float]]:
    """Every photograph of the evaluation set, one after another, with hard cuts."""
    return make_concat_clip(tmp_path_factory.mktemp("reel") / "reel.mp4", list(PHOTOS), seconds_each=SHOT_S)


@pytest.fixture(scope="module")
def taggings(taggers, reel) -> dict:
    """Today's way (full decode, TorchScript), the same one frame later, and the new way (sampled
    decode, ONNX Runtime)."""
    path, _ = reel
    with decode_mode(FULL):
        full = taggers["torchscript"].handle(TagRequest(str(path)))
        shifted = taggers["torchscript"].handle(TagRequest(str(path), start=one_frame_later(path)))
    with decode_mode(SAMPLED):
        sampled = taggers["onnx"].handle(TagRequest(str(path)))
    return {"full": full, "shifted": shifted, "sampled": sampled}


@pytest.mark.unit
def test_options_are_chosen_per_codec_and_mode():
    assert decoder_options("h264", SAMPLED) == decoder_options("hevc", SAMPLED) == {"skip_frame": "noref"}
    assert decoder_options("h264", FULL) == {} and decoder_options("vp9", SAMPLED) == {}
    assert decoder_options(None, SAMPLED) == {}
    assert decoder_options("h264", SAMPLED, fast=True) == decoder_options("mjpeg", FULL, fast=True) == {"skip_frame": "nokey"}
    intra = decoder_options("mjpeg", SAMPLED, rates=(1.0, 5.0), origin_s=1.4)["bsf:v"]
    assert intra.startswith("noise=drop=") and "floor(5*" in intra and "floor(1*" in intra and "-1.400000" in intra


def test_the_new_way_agrees_with_todays_at_least_as_well_as_a_one_frame_shift(taggings, tagger, reel):
    _, true_cuts = reel
    full, shifted, sampled = taggings["full"], taggings["shifted"], taggings["sampled"]
    floor = compare(full, shifted, tagger.threshold)
    ours = compare(full, sampled, tagger.threshold)
    assert ours["window_agreement"] >= floor["window_agreement"], (ours, floor)
    assert ours["same_video_tags"] and ours["same_shot_tags"], (ours, sampled["tags"], full["tags"])
    # every shot boundary within one sampled frame of the full decode's, and of the true cuts
    assert ours["cuts"] == ours["reference_cuts"] == len(true_cuts) and ours["worst_cut_error_s"] <= 1 / SHOT_FPS + 1e-6
    assert all(min(abs(c - t) for c in sampled["cuts"]) <= 1 / SHOT_FPS + 1e-6 for t in true_cuts), sampled["cuts"]


def test_every_result_says_where_the_time_went(taggings):
    full, sampled = taggings["full"]["timings"], taggings["sampled"]["timings"]
    assert full["decode_mode"] == FULL and sampled["decode_mode"] == SAMPLED
    assert full["frames_sampled"] == sampled["frames_sampled"] == len(PHOTOS) * SHOT_S
    assert full["frames_decoded"] == len(PHOTOS) * SHOT_S * 25  # every frame of the 25-fps reel
    assert sampled["frames_sampled"] < sampled["frames_decoded"] < full["frames_decoded"]
    assert all(t["decode_s"] > 0 and t["infer_s"] > 0 for t in (full, sampled))


def test_an_intra_only_stream_decodes_only_the_sampled_frames_and_the_very_same_ones(reel, tmp_path):
    mjpeg = tmp_path / "reel.avi"
    subprocess.run([ffmpeg_binary(), "-nostdin", "-loglevel", "error", "-i", str(reel[0]), "-t", "12", "-c:v", "mjpeg",
                    "-q:v", "5", str(mjpeg)], check=True, timeout=120)
    decoded = {}
    for mode in (FULL, SAMPLED):
        with decode_mode(mode):
            for start, end, lead in ((None, None, 0.0), (4.0, 9.0, 0.2)):
                cuts, stats = [], {}
                frames = np.concatenate([f for _, f in iter_frame_batches(mjpeg, fps=1.0, size=32, start=start, end=end, cuts=cuts,
                                                                          stats=stats, lead_s=lead)])
                decoded[mode, start] = frames, cuts, stats["frames_decoded"]
    for start in (None, 4.0):
        (full, full_cuts, full_count), (ours, our_cuts, our_count) = decoded[FULL, start], decoded[SAMPLED, start]
        assert np.array_equal(full, ours) and full_cuts == our_cuts
        assert our_count <= full_count / 4  # 5 of every 25 frames, for the shot branch's 5 samples a second
    assert decoded[SAMPLED, None][2] == 12 * SHOT_FPS and decoded[SAMPLED, 4.0][1] == [4.0, 8.0]
