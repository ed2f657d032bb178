"""One decode, several models (media/taps.py, models/analysis/run.py): the frame models' taps
come out of the tagger's own ffmpeg run at their rate and size, change nothing the tagger sees,
sample the same frames in a segment as in the whole video, and leave nothing open behind them.
Real ffmpeg on generated clips; the frame models here are small stand-ins that report the frame's
brightness, so what is checked is the plumbing, not a model."""

from __future__ import annotations

import os

import av
import numpy as np
import pytest

from media.frames import DecodeError, iter_frame_batches, probe_video
from media.probe import probe
from media.taps import FrameTap, fit
from models.frame_model import FrameModel, FrameSpec, detection
from models.service import service
from models.tagger.inference import TagRequest, tag_request
from models.tagger.merge import merge_segments
from tests.fixtures_media import TAGGER, clip, truncated_copy

pytestmark = pytest.mark.integration


class Brightness(FrameModel):
    """A stand-in frame model: one finding per frame, its `text` the frame's size and mean level."""

    name, version, batch = "brightness", "1", 3

    def __init__(self, feature: str, fps: float, max_side: int):
        self.feature, self.spec = feature, FrameSpec(fps, max_side)

    def preprocess(self, frames):
        return frames

    def infer(self, batch):
        return [(f.shape, int(f.mean())) for f in batch]

    def postprocess(self, outputs, frames):
        return [[detection([0, 0, 1, 1], 1.0, text=f"{shape[1]}x{shape[0]} {level}")] for shape, level in outputs]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_fit_keeps_the_aspect_and_never_enlarges():
    assert fit(1280, 720, 640) == (640, 360)
    assert fit(720, 1280, 640) == (360, 640)
    assert fit(320, 240, 640) == (320, 240)
    assert fit(641, 361, 641) == (640, 360)  # even sizes for rgb24 scalers


def test_taps_come_at_their_rate_and_size_and_leave_the_tagger_frames_unchanged():
    path, _ = clip(41, 8.0, cuts=True, width=640, height=360)
    facts = probe_video(path)
    plain = list(iter_frame_batches(path, fps=1, size=64, batch=4, facts=facts))
    taps = (FrameTap("people", fps=1, max_side=320, grid_fps=1, width=facts.width, height=facts.height),
            FrameTap("text", fps=0.5, max_side=1000, grid_fps=1, width=facts.width, height=facts.height))
    tapped, got = [], {tap.name: [] for tap in taps}
    for item in iter_frame_batches(path, fps=1, size=64, batch=4, facts=facts, taps=taps):
        tapped.append(item)
        for tap in taps:
            got[tap.name] += tap.take()
    for tap in taps:
        got[tap.name] += tap.take()
    assert len(plain) == len(tapped)
    for (s1, f1), (s2, f2) in zip(plain, tapped, strict=True):
        assert np.array_equal(s1, s2) and np.array_equal(f1, f2)
    assert [t for t, _ in got["people"]] == [float(t) for t in range(8)]
    assert {f.shape for _, f in got["people"]} == {(180, 320, 3)}
    assert [t for t, _ in got["text"]] == [0.0, 2.0, 4.0, 6.0]
    assert {f.shape for _, f in got["text"]} == {(360, 640, 3)}  # never enlarged


def test_a_segment_samples_the_frames_the_whole_video_does():
    path, _ = clip(42, 9.0, cuts=True, width=480, height=270)
    tagger = service(TAGGER)
    models = (("people", Brightness("people", 1.0, 240)), ("text", Brightness("text", 0.5, 480)))
    whole = tagger.handle(TagRequest(str(path), frame_models=models))
    parts = [{"start": a, "end": b, **tag_request(tagger, TagRequest(str(path), a, b, segment=True, frame_models=models))}
             for a, b in ((0.0, 3.0), (3.0, 9.0))]  # a boundary at an odd second: text samples every 2 s
    merged = merge_segments(parts, tagger.vocab)
    assert [s["t"] for s in whole["people"]["samples"]] == [float(t) for t in range(9)]
    assert merged["people"] == whole["people"]
    assert merged["text"] == whole["text"]
    assert sorted(r for e in whole["text"] for r in e["ranges"])[0][0] == 0.0
    assert {e["text"].split()[0] for e in whole["text"]} == {"480x270"}
    assert whole["timings"]["models"]["text"]["frames"] == 5  # 0, 2, 4, 6, 8


def test_with_the_jobs_probe_a_segment_taps_the_same_frames_without_opening_the_file(monkeypatch):
    """The frame taps size themselves from the facts the message carries (`VideoInfo.facts`) as
    from the header a segment would read: same detections, no PyAV container opened."""
    path, _ = clip(43, 6.0, cuts=True, width=480, height=270)
    tagger = service(TAGGER)
    models = (("people", Brightness("people", 1.0, 240)), ("text", Brightness("text", 0.5, 480)))
    facts = probe(str(path)).facts()
    read = tag_request(tagger, TagRequest(str(path), 3.0, 6.0, segment=True, frame_models=models))
    monkeypatch.setattr(av, "open", lambda *a, **k: pytest.fail(f"PyAV opened {a[0]}"))
    sent = tag_request(tagger, TagRequest(str(path), 3.0, 6.0, segment=True, frame_models=models, facts=facts))
    assert {k: v for k, v in sent.items() if k != "timings"} == {k: v for k, v in read.items() if k != "timings"}
    assert sent["detections"]["people"] and sent["detections"]["text"]


def test_no_labels_still_decodes_shots_and_frames():
    path, truth = clip(43, 8.0, cuts=True, width=480, height=270)
    tagger = service(TAGGER)
    out = tagger.handle(TagRequest(str(path), frame_models=(("faces", Brightness("faces", 1.0, 240)),), labels=False))
    assert out["windows"] == [] and out["tags"] == []
    assert len(out["shots"]) >= 2 and all(shot["tags"] == [] for shot in out["shots"])
    assert out["faces"]["sampled"] == 8


def test_a_failed_decode_with_taps_leaves_no_descriptor_open(tmp_path):
    path, _ = clip(44, 6.0, width=480, height=270)
    broken = truncated_copy(path, tmp_path / "broken.mp4", 0.5)
    tagger = service(TAGGER)
    models = (("people", Brightness("people", 1.0, 240)),)
    before = open_fds()
    with pytest.raises(DecodeError):
        tagger.handle(TagRequest(str(broken), frame_models=models))
    assert open_fds() == before
    tagger.handle(TagRequest(str(path), frame_models=models))
    assert open_fds() == before
