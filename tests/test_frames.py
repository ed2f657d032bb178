"""Streaming frame decode: timestamps, input seek, early stop, errors, flat memory."""

from __future__ import annotations

import os
import subprocess
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import media.frames as frames_module
from brigade.settings import Settings
from media.frames import DecodeError, build_command, iter_frame_batches, probe_duration
from tests.appkit import settings_with
from tests.fixtures_media import clip, truncated_copy


def decode_all(path, **kwargs):
    batches = list(iter_frame_batches(path, **kwargs))
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]), batches


def test_batches_have_the_asked_shape_and_timestamps():
    path, gt = clip(seed=3, duration_s=4.0)
    stamps, frames, batches = decode_all(path, fps=2.0, size=64, batch=3)
    assert frames.dtype == np.uint8 and frames.shape == (8, 64, 64, 3)
    assert stamps.dtype == np.float64 and stamps.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert [len(b[0]) for b in batches] == [3, 3, 2]


def test_input_seek_decodes_only_the_range_and_matches_full_decode():
    path, gt = clip(seed=11, duration_s=40.0, cuts=True)
    full_stamps, full, _ = decode_all(path, fps=1.0, size=64)
    stamps, part, _ = decode_all(path, fps=1.0, size=64, start=30.0, end=35.0)
    assert stamps.tolist() == [30.0, 31.0, 32.0, 33.0, 34.0]
    diff = np.abs(part.astype(int) - full[30:35].astype(int)).mean()
    assert diff < 4, diff
    odd_stamps, _, _ = decode_all(path, fps=2.0, size=32, start=12.3, end=17.1)
    assert odd_stamps[0] == pytest.approx(12.3) and odd_stamps[-1] < 17.1 and len(odd_stamps) == 10


def test_range_is_an_input_option_so_ffmpeg_seeks_instead_of_reading_everything():
    cmd = build_command("in.mp4", fps=1.0, size=64, start=100.0, end=110.0, fast=False)
    i = cmd.index("-i")
    assert cmd.index("-ss") < i and cmd.index("-t") < i and cmd[cmd.index("-t") + 1].startswith("10.0")
    assert cmd[cmd.index("-protocol_whitelist") + 1] == "file,pipe" and cmd.index("-threads") < i
    fast = build_command("in.mp4", fps=1.0, size=64, start=None, end=None, fast=True)
    assert fast[fast.index("-skip_frame") + 1] == "nokey" and fast.index("-skip_frame") < fast.index("-i")


@pytest.mark.parametrize("keep", [0.5, 0.002])
def test_truncated_file_raises_with_ffmpeg_message(tmp_path, keep):
    path, _ = clip(seed=11, duration_s=40.0, cuts=True)
    broken = truncated_copy(path, tmp_path / "broken.mp4", keep)
    with pytest.raises(DecodeError) as info:
        for _ in iter_frame_batches(broken, fps=1.0, size=32):
            pass
    assert "ffmpeg exited" in str(info.value) and len(str(info.value)) > 40


def test_range_past_the_end_or_missing_file_raises(tmp_path):
    path, _ = clip(seed=3, duration_s=4.0)
    with pytest.raises(DecodeError, match="no frames"):
        list(iter_frame_batches(path, start=50.0, end=60.0))
    with pytest.raises(DecodeError):
        list(iter_frame_batches(tmp_path / "missing.mp4"))
    with pytest.raises(ValueError):
        list(iter_frame_batches(path, start=3.0, end=2.0))


def test_stopping_early_kills_ffmpeg(monkeypatch):
    started = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(frames_module.subprocess, "Popen", recording_popen)
    path, _ = clip(seed=11, duration_s=40.0, cuts=True)
    batches = iter_frame_batches(path, fps=10.0, size=64, batch=2)
    next(batches)
    assert started[0].poll() is None
    batches.close()
    assert started[0].poll() is not None


def test_fast_mode_decodes_keyframes_only():
    path, _ = clip(seed=11, duration_s=40.0, cuts=True)
    stamps, frames, _ = decode_all(path, fps=2.0, size=32, fast=True)
    assert 70 <= len(stamps) <= 80
    distinct = len({f.tobytes() for f in frames})
    assert distinct < len(frames) / 2  # keyframes every 2 s (and at cuts), repeated in between


def test_probe_duration():
    path, _ = clip(seed=11, duration_s=40.0, cuts=True)
    assert probe_duration(path) == pytest.approx(40.0, abs=0.15)


def _peak_decode_bytes(path) -> int:
    tracemalloc.start()
    try:
        for _ in iter_frame_batches(path, fps=4.0, size=128, batch=8):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_decode_memory_does_not_grow_with_length():
    short, _ = clip(seed=3, duration_s=4.0)
    long, _ = clip(seed=11, duration_s=40.0, cuts=True)
    short_peak, long_peak = _peak_decode_bytes(short), _peak_decode_bytes(long)
    whole_long_clip = 40 * 4 * 128 * 128 * 3
    assert long_peak < 1.3 * short_peak + 100_000, (short_peak, long_peak)
    assert long_peak < whole_long_clip / 5


def _ffmpeg_children() -> list[int]:
    """pids of this process's ffmpeg children (/proc/<pid>/stat: field 4 is the parent)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                if int(fields[1]) == os.getpid() and "ffmpeg" in (entry / "comm").read_text():
                    found.append(int(entry.name))
            except (OSError, ValueError):
                continue
    return found


def _with_settings(monkeypatch, **values) -> None:
    changed = settings_with(**values)
    monkeypatch.setattr(frames_module, "get_settings", lambda: changed)


def _while_decoding(path, look) -> dict:
    """{pid: look(pid)} for the ffmpeg children alive while the first batch is in the consumer's hands."""
    batches = iter_frame_batches(path, fps=1.0, size=32, batch=1)
    next(batches)
    try:
        return {pid: look(pid) for pid in _ffmpeg_children()}
    finally:
        batches.close()


def _nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[16])


def _thread_affinities(pid: int) -> list[set[int]]:
    """Every thread's CPUs, including the threads ffmpeg started after the fork."""
    return [os.sched_getaffinity(int(task.name)) for task in Path(f"/proc/{pid}/task").iterdir()]


def test_the_decoder_runs_below_the_worker_s_priority(monkeypatch):
    """FFMPEG_NICE: while a batch is in the consumer's hands, the ffmpeg feeding it runs niced."""
    _with_settings(monkeypatch, FFMPEG_NICE=5)
    path, _ = clip(seed=5, duration_s=20.0)
    seen = _while_decoding(path, _nice)
    assert seen and set(seen.values()) == {os.getpriority(os.PRIO_PROCESS, 0) + 5}


def test_decoders_run_on_the_decoder_cpus_and_the_worker_stays_where_it_was(monkeypatch):
    own = os.sched_getaffinity(0)
    if len(own) < 2:
        pytest.skip("needs 2 CPUs to tell a pinned decoder from an unpinned one")
    decoder_cpu = max(own)
    _with_settings(monkeypatch, DECODER_CPUS=decoder_cpu)
    path, _ = clip(seed=5, duration_s=20.0)
    seen = _while_decoding(path, _thread_affinities)
    assert seen and all(len(threads) > 1 for threads in seen.values())  # ffmpeg's own threads included
    assert all(cpus == {decoder_cpu} for threads in seen.values() for cpus in threads), seen
    assert os.sched_getaffinity(0) == own


def test_decoder_cpus_this_process_may_not_use_leave_the_decoder_unpinned(monkeypatch, caplog):
    own = os.sched_getaffinity(0)
    _with_settings(monkeypatch, DECODER_CPUS=4095)  # no such CPU here
    path, _ = clip(seed=5, duration_s=4.0)
    stamps, frames, _ = decode_all(path, fps=1.0, size=32, batch=2)
    assert len(frames) == 4 and os.sched_getaffinity(0) == own
    assert "DECODER_CPUS=[4095] cannot be used here" in caplog.text


def test_settings_refuse_a_decoder_cpu_list_that_is_not_one():
    assert Settings.from_env({"DECODER_CPUS": "0, 2-3"}).decoder_cpus == {0, 2, 3}
    assert Settings.from_env({}).decoder_cpus == set()
    for bad in ("x", "3-1", "-1", "0;1"):
        with pytest.raises(ValueError, match="DECODER_CPUS"):
            Settings.from_env({"DECODER_CPUS": bad})
