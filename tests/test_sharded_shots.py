"""Same shots single and sharded: a segment boundary is no shot boundary unless a cut is there, and
a cut at a boundary is found, on a clip of real photographs with cuts at known times."""

from __future__ import annotations

import shutil
import subprocess

import av
import pytest

from media.ffmpeg_bin import ffmpeg_binary
from media.frames import SHOT_FPS, probe_video
from media.probe import probe
from models import registry
from models.build.photos import make_concat_clip
from models.build.tagger import NAME
from models.tagger.inference import TagRequest, tag_file, tag_request
from models.tagger.merge import merge_segments, summed_timings
from tests.fixtures_media import SHIPPED_STORE

#: Segment boundaries at 5, 10 and 15 s, where the cuts are (shots of 5 s) or just before them (shots
#: of 5.2 s: cuts at 5.2, 10.4, 15.6, two inside the first 0.5 s of their segment, where a segment
#: used to drop cuts), and at 8 and 13 s, in the middle of shots.
PHOTOS = ("cat", "motorcycle", "coffee", "grace_hopper")
BOUNDARIES = (0.0, 5.0, 8.0, 10.0, 13.0, 15.0)


def boundaries(result: dict) -> list[float]:
    return [shot["start"] for shot in result["shots"][1:]]


@pytest.fixture(scope="module")
def tagger():
    return registry.load_model(f"{NAME}@2.0.0", store=SHIPPED_STORE)


@pytest.mark.parametrize("shot_s", [5.0, 5.2], ids=["cuts-on-boundaries", "cuts-just-after-boundaries"])
def test_single_and_sharded_give_the_same_shots(tagger, tmp_path, shot_s):
    path, true_cuts = make_concat_clip(tmp_path / "reel.mp4", list(PHOTOS), seconds_each=shot_s)
    single = tag_file(tagger, path)
    ends = (*BOUNDARIES[1:], single["duration_s"])
    segments = [{"start": a, "end": b, **tag_request(tagger, TagRequest(str(path), a, b, segment=True))}
                for a, b in zip(BOUNDARIES, ends, strict=True)]
    sharded = merge_segments(segments, tagger.vocab)
    assert boundaries(sharded) == boundaries(single) == single["cuts"]
    assert len(single["cuts"]) == len(true_cuts)
    assert all(abs(c - t) <= 1 / SHOT_FPS + 1e-6 for c, t in zip(single["cuts"], true_cuts, strict=True)), single["cuts"]
    assert [s["tags"] for s in sharded["shots"]] == [s["tags"] for s in single["shots"]]
    assert sharded["tags"] == single["tags"]
    # where the time went, added up over the segments
    timings = summed_timings([seg["timings"] for seg in segments])
    assert timings["frames_sampled"] == single["timings"]["frames_sampled"] == len(single["windows"])
    assert timings["frames_decoded"] >= single["timings"]["frames_decoded"]  # each seek decodes from a keyframe back


@pytest.mark.unit
def test_the_merge_counts_a_cut_reported_on_both_sides_of_a_boundary_once():
    vocab = {"labels": ["A"], "groups": {}, "parents": {}, "threshold": 0.5}
    window = lambda t: {"start": t, "end": t + 1.0, "scores": {"A": 0.9}}  # noqa: E731
    segments = [{"start": 0.0, "end": 3.0, "windows": [window(t) for t in (0.0, 1.0, 2.0)], "cuts": [1.0, 2.8]},
                {"start": 3.0, "end": 6.0, "windows": [window(t) for t in (3.0, 4.0, 5.0)], "cuts": [3.0, 4.2]}]
    assert boundaries(merge_segments(segments, vocab)) == [1.0, 2.8, 4.2]  # 3.0: the same cut as 2.8
    keyframes_only = [{**seg, "cuts": [], "timings": {"decode_mode": "keyframes"}} for seg in segments]
    assert boundaries(merge_segments(keyframes_only, vocab, [3.0])) == [3.0]  # fast mode: the planner's cut counts
    assert boundaries(merge_segments(segments, vocab, [3.5])) == [1.0, 2.8, 4.2]  # otherwise it does not


def _without_timings(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "timings"}


@pytest.mark.parametrize("container", ["mp4", "ts"])  # MPEG-TS: its timestamps start at 1.4 s
def test_with_the_jobs_probe_no_tagging_call_opens_the_file(tagger, tmp_path, monkeypatch, container):
    """The facts the API's probe (of the upload, before it is stored) carries are those a worker
    reads from the stored file's header; given them, a whole video and each segment are tagged as
    before without PyAV opening the file; without them (a message of an older API) it is opened."""
    path = tmp_path / f"clip.{container}"  # a keyframe a second: a segment's seek lands near its start
    subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=6",
                    "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p", str(path)],
                   check=True, timeout=120)
    upload = shutil.copy(path, tmp_path / "upload.part")  # what the API probes
    facts = probe(str(upload)).facts()
    assert facts == probe_video(path)
    opened, real_open = [], av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    ranges = [(None, None, False), (0.0, 3.0, True), (3.0, facts.duration_s, True)]
    before = [tag_request(tagger, TagRequest(str(path), a, b, segment=seg)) for a, b, seg in ranges]
    assert opened == [str(path)] * len(ranges)  # no facts: each call reads the header itself
    opened.clear()
    after = [tag_request(tagger, TagRequest(str(path), a, b, segment=seg, facts=facts)) for a, b, seg in ranges]
    assert opened == []
    assert [_without_timings(r) for r in after] == [_without_timings(r) for r in before]
    assert before[0]["windows"] and before[2]["windows"]
