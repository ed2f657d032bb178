"""Stream sampled RGB frames out of a video through ffmpeg, a fixed-size batch at a time.

ffmpeg resamples to `fps` and scales to `size`x`size` (aspect ratio is not kept: the tagger sees
the whole picture), and writes raw rgb24 to a pipe. We read exactly one batch of bytes at a time,
so memory stays flat however long the video is. `start`/`end` become input options (`-ss`/`-t`
before `-i`): ffmpeg seeks to the keyframe before `start` and decodes only that range.

The frame stamped `t` covers [t, t + 1/fps): ffmpeg's fps filter fills slot k with the last source
frame before (k + 0.5)/fps, i.e. a frame from the middle of that window. `-xerror` makes ffmpeg
exit non-zero on a corrupt packet, so a truncated file raises instead of silently ending early.
`fast=True` decodes keyframes only; the fps filter then repeats each keyframe until the next one.
Otherwise the decoder skips what no sampled frame needs, by codec (`media.decode_modes`: DECODE_MODE
`sampled`, the default), or decodes every frame (`full`).

Shots come from the same decode: with `cuts` given, a second branch of the filter graph (`split`)
samples the decoded frames at `SHOT_FPS`, shrinks them to 64 px and prints (showinfo, on stderr)
each frame whose scene score passes the threshold. Scoring frames 0.2 s apart sees hard cuts and
not camera motion, which comparing keyframes 2 s apart mistakes for cuts, and costs no second
decode of the video. A range that continues a video (a segment after the first) starts its decode
one shot sample early (`lead_s`): the shot branch then compares the range's first sample with the one
before it, as the whole-video decode does, so a cut right at the range start is not lost; the
model's branch trims that lead off, so its frames are the range's own.
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import threading
from collections.abc import Iterator

import ffmpeg
import numpy as np

from brigade.settings import get_settings
from media.decode_modes import decode_label, decoder_options
from media.ffmpeg_bin import ffmpeg_binary, input_options
from media.ffmpeg_log import LOGLEVEL, StderrLog
from media.probe import ProbeError, VideoFacts, duration_of, open_media, start_of

log = logging.getLogger(__name__)

SHOT_FPS = 5.0


class DecodeError(RuntimeError):
    """ffmpeg could not decode the input (missing, truncated, corrupt, or no frames in range).

    `str(exc)` is the whole story for the worker's log (the path, ffmpeg's last stderr lines);
    `.reason` is what a client may read: the input's fault in plain words, no server path."""

    def __init__(self, detail: str, reason: str = "the video could not be decoded (corrupt or truncated data)"):
        super().__init__(detail)
        self.reason = reason


def read_exact(stream, size: int) -> bytearray:
    """Up to `size` bytes: fewer only at end of stream."""
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = stream.readinto(view[got:])
        if not n:
            break
        got += n
    del view
    del buf[got:]
    return buf


def yield_to_the_consumer(pid: int) -> None:
    """Lower the decoder's priority by FFMPEG_NICE (default 0: off). ffmpeg only fills a pipe ahead
    of the model; where both want the same core, the model (the consumer) could run first, and the
    scheduler would still give the decoder every idle moment. Measured on 2 cores, 8-12 repetitions
    side by side: at 10 the model's frames/s while the decoder runs rose from 0.89-0.92x the bare
    model's to 0.90-0.99x, but an inference-bound 360p job took 2-5 % longer end to end (at 19:
    15 %), so it stays off: what a client waits for is the wall time.
    (Set after the start, not in a preexec_fn: those are unsafe in a process with threads.)"""
    nice = get_settings().FFMPEG_NICE
    if nice:
        try:
            os.setpriority(os.PRIO_PROCESS, pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice))
        except OSError:  # already gone, or not ours to change: it runs at our priority
            pass


@functools.cache
def _warn_once(message: str) -> None:
    log.warning(message)


def start_decoder(cmd: list[str], pass_fds: tuple[int, ...] = ()) -> subprocess.Popen:
    """Start ffmpeg writing to a pipe, on the DECODER_CPUS when they are set.

    A child inherits the CPU affinity of the thread that starts it, so the starting thread moves to
    the decoder CPUs for the moment of the fork and back (no window in which ffmpeg's own threads
    start elsewhere, as setting the child's affinity afterwards would leave). Measured on 2 cores,
    the worker on one and its decoders on the other: the model's frames/s while the decoder runs
    0.92-1.02x the bare model's (0.85-0.92x sharing both cores), at the same wall time. CPUs this
    process may not use (outside its cpuset) are a deployment mistake, not the video's: the
    decoder then runs unpinned, with a warning. `pass_fds`: the write ends of the frame taps'
    pipes (`media.taps`), inherited under the same numbers."""
    cpus = get_settings().decoder_cpus
    own = os.sched_getaffinity(0) if cpus else None
    try:
        if cpus:
            try:
                os.sched_setaffinity(0, cpus)
            except OSError as exc:
                own = None
                _warn_once(f"DECODER_CPUS={sorted(cpus)} cannot be used here ({exc}): decoding unpinned")
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=pass_fds)
    except OSError as exc:
        raise DecodeError(f"cannot start ffmpeg: {exc}") from exc
    finally:
        if own is not None:
            os.sched_setaffinity(0, own)


def build_command(path: str, *, fps: float, size: int, start: float | None, end: float | None, fast: bool,
                  scene_threshold: float | None = None, facts: VideoFacts | None = None, lead_s: float = 0.0,
                  taps: tuple = ()) -> list[str]:
    """The ffmpeg argv that writes `size`x`size` rgb24 frames at `fps` to stdout (and, with a
    `scene_threshold`, reports scene cuts on stderr from the same decode), decoding what DECODE_MODE
    needs of the stream `facts` describes. `lead_s`: decode that much before `start` for the shot
    branch only. `taps` (`media.taps.FrameTap`): more outputs of the same decode, each at its
    `grid_fps` and size to its own pipe."""
    settings = get_settings()
    in_opts = dict(input_options(path), threads=settings.FFMPEG_THREADS)
    rates = (fps, *(tap.grid_fps for tap in taps)) + (() if scene_threshold is None else (SHOT_FPS,))
    origin = (facts.start_s if facts else 0.0) + (start or 0.0) - lead_s
    in_opts.update(decoder_options(facts and facts.codec, settings.DECODE_MODE, fast, rates=rates, origin_s=origin))
    if lead_s and (scene_threshold is None or not start or lead_s > start):
        raise ValueError(f"a lead of {lead_s}s needs the shot branch and a start at least that late (start={start})")
    if start:
        in_opts["ss"] = f"{start - lead_s:.6f}"
    if end is not None:
        duration = end - (start or 0.0)
        if duration <= 0:
            raise ValueError(f"empty range: start={start} end={end}")
        in_opts["t"] = f"{duration + lead_s:.6f}"
    video = ffmpeg.input(str(path), **in_opts).video
    if scene_threshold is not None:
        video, shots = video.split()[0], video.split()[1]
        # eq(n,0): the branch passes its first frame, or ffmpeg fails on an output stream with none.
        shot_branch = (shots.filter("fps", fps=SHOT_FPS).filter("scale", 64, -2, flags="fast_bilinear")
                       .filter("select", f"eq(n,0)+gt(scene,{scene_threshold})").filter("showinfo")
                       .output("-", format="null"))
    if lead_s:  # the model's frames start at `start`, timed as a decode seeked there would time them
        video = video.filter("trim", start=f"{lead_s:.6f}").filter("setpts", f"PTS-{lead_s:.6f}/TB")
    branches = video.split() if taps else None
    if taps:
        video = branches[0]
    frames = (video.filter("fps", fps=fps).filter("scale", size, size, flags="area")
              .output("pipe:", format="rawvideo", pix_fmt="rgb24", an=None, sn=None, dn=None))
    extra = [branches[i + 1].filter("fps", fps=tap.grid_fps).filter("scale", tap.width, tap.height, flags="area")
             .output(tap.output, format="rawvideo", pix_fmt="rgb24", an=None, sn=None, dn=None)
             for i, tap in enumerate(taps)]
    if scene_threshold is not None:
        extra.append(shot_branch)
    outputs = ffmpeg.merge_outputs(frames, *extra) if extra else frames
    args = ("-nostdin", "-hide_banner", "-nostats", "-loglevel", LOGLEVEL, "-xerror", "-filter_threads", "1")
    return outputs.global_args(*args).compile(cmd=ffmpeg_binary())


def iter_frame_batches(
    path,
    *,
    fps: float = 1.0,
    size: int = 128,
    start: float | None = None,
    end: float | None = None,
    batch: int = 16,
    fast: bool = False,
    cuts: list | None = None,
    facts: VideoFacts | None = None,
    stats: dict | None = None,
    lead_s: float = 0.0,
    taps: tuple = (),
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (timestamps_s float64 [B], frames uint8 [B, size, size, 3]) until the range ends.

    Timestamps are absolute in the file. With `cuts` (a list), the scene cuts found in the range
    are appended to it (absolute times) by the time the iteration ends; `lead_s` lets the shot
    branch see that much before `start` (see the module's docstring). `facts`: the stream's codec
    and start (the job's probe: `VideoInfo.facts`), read from the file (`probe_video`) when not
    given. With `stats` (a dict), `frames_decoded` (ffmpeg's own count; None if it was stopped
    early) and `decode_mode` are set in it by the end. Raises DecodeError when ffmpeg fails or yields no frame; ffmpeg is killed if
    the consumer stops iterating early. `taps` (`media.taps.FrameTap`): more outputs of this
    decode, read on their own threads while the consumer iterates (it takes their frames between
    batches; their pipes have ended, and `take` has the rest, when the iteration ends).
    """
    if fps <= 0 or size <= 0 or batch <= 0:
        raise ValueError("fps, size and batch must be positive")
    settings = get_settings()
    threshold = None if cuts is None else settings.SCENE_THRESHOLD
    if facts is None and not fast:
        facts = stream_facts(path)
    cmd = build_command(path, fps=fps, size=size, start=start, end=end, fast=fast, scene_threshold=threshold,
                        facts=facts, lead_s=lead_s, taps=taps)
    frame_bytes = size * size * 3
    offset = float(start or 0.0)
    said = StderrLog(cuts, offset - lead_s)
    try:
        proc = start_decoder(cmd, tuple(tap.write_fd for tap in taps))
    except DecodeError:
        for tap in taps:
            tap.close()
        raise
    for tap in taps:
        tap.start(offset, end)
    yield_to_the_consumer(proc.pid)
    drainer = threading.Thread(target=said.read, args=(proc.stderr,), daemon=True)
    drainer.start()
    produced, past_end = 0, False
    try:
        while True:
            buf = read_exact(proc.stdout, batch * frame_bytes)
            count = len(buf) // frame_bytes
            if past_end:  # drain what ffmpeg still writes (its -t ends it): it exits and says what it decoded
                if count < batch:
                    break
                continue
            stamps = offset + (produced + np.arange(count, dtype=np.float64)) / fps
            past_end = end is not None and count > 0 and stamps[-1] >= end - 1e-9
            if past_end:  # keyframe-only decoding can overshoot the range by a frame
                stamps = stamps[stamps < end - 1e-9]
            if len(stamps):
                frames = np.frombuffer(buf, np.uint8, len(stamps) * frame_bytes).reshape(-1, size, size, 3)
                produced += len(stamps)
                yield stamps, frames
            if count < batch:
                break
        returncode = proc.wait()
        drainer.join(timeout=5)
        if stats is not None:
            stats.update(frames_decoded=said.frames_decoded, decode_mode=decode_label(settings.DECODE_MODE, fast))
        if (returncode != 0 and not (past_end and produced)) or produced == 0:
            why = f"ffmpeg exited with {returncode}" if returncode else "no frames decoded"
            public = said.reasons[:1] or ([] if returncode else ["no frame could be decoded in the requested range"])
            raise DecodeError(f"{path}: {why}: " + " | ".join(said.tail), *public)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        for tap in taps:  # ffmpeg is gone: every tap's pipe ends, and `take` has the rest
            tap.join()


def probe_video(path) -> VideoFacts:
    """Duration, codec and start, read in-process from the header (PyAV: milliseconds, where
    starting an ffmpeg just to print its header dump costs tens of milliseconds per tagging call)."""
    try:
        with open_media(path) as container:
            duration = duration_of(container)
            streams = container.streams.video
            codec = streams[0].codec_context.name if streams and streams[0].codec_context is not None else ""
            start = start_of(container)
            width, height = (int(streams[0].codec_context.width), int(streams[0].codec_context.height)) if codec else (0, 0)
    except ProbeError as exc:
        raise DecodeError(f"{path}: cannot read duration: {exc.detail}") from exc
    if duration <= 0:
        raise DecodeError(f"{path}: cannot read duration: the header names none")
    return VideoFacts(duration, codec, start, width, height)


def stream_facts(path) -> VideoFacts | None:
    """`probe_video`, or None when PyAV cannot read the file (ffmpeg then decodes in full, and says
    what is wrong with it if anything is)."""
    try:
        return probe_video(path)
    except DecodeError:
        return None


def probe_duration(path) -> float:
    """Container duration in seconds (`probe_video`)."""
    return probe_video(path).duration_s
