"""Probe an upload before a job exists: container, video stream, duration, resolution, fps.

PyAV opens the file in-process (a few ms; the imageio-ffmpeg wheel ships no ffprobe). Decoding the
first frame and one near the end catches truncated files whose header still parses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import av

from brigade.settings import Settings, get_settings

#: Containers worth opening; anything else is refused before any decoder sees it.
ALLOWED_FORMATS = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "mpegts", "flv", "mpeg"}


class ProbeError(Exception):
    """The upload is not a video we accept; `.code` names why (for the API's problem type)."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class VideoInfo:
    container: str
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float
    has_audio: bool
    size_bytes: int

    def as_dict(self) -> dict:
        return asdict(self)


def _first_frame_decodes(container, stream) -> bool:
    for frame in container.decode(stream):
        return frame is not None
    return False


def _last_packet_time(container, stream, duration: float) -> float:
    """Seek near the end and demux (no decoding) to the last packet; its time says whether the
    file really reaches `duration` (a truncated mp4 with its index up front still parses)."""
    container.seek(int(max(0.0, duration - 1.0) / float(stream.time_base)), stream=stream, backward=True)
    last = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None:
            last = max(last, float((packet.pts + (packet.duration or 0)) * stream.time_base))
    return last


def open_media(path):
    """PyAV container of `path`, opened with whitelists: an upload may not make the demuxer open
    other files or the network (an HLS playlist or a concat script names other resources) nor
    pick an exotic demuxer. ProbeError when it is not readable media."""
    try:
        return av.open(str(path), metadata_errors="ignore",
                       options={"protocol_whitelist": "file", "format_whitelist": ",".join(sorted(ALLOWED_FORMATS))})
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise ProbeError("not-a-video", f"the upload is not a readable media file ({exc.__class__.__name__})") from exc


def start_of(container) -> float:
    """Seconds of the container's first timestamp (MPEG-TS often starts at 1.4 s, MP4 at 0). ffmpeg's
    `-ss` and the tagger's frame times count from here; packet and `-copyts` times do not."""
    return container.start_time / av.time_base if container.start_time is not None else 0.0


def duration_of(container, stream=None) -> float:
    """Seconds, from the container header, else the (first) video stream's, else 0."""
    stream = stream or (container.streams.video[0] if container.streams.video else None)
    if container.duration is not None:
        return container.duration / av.time_base
    if stream is not None and stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return 0.0


def probe(path: str, size_bytes: int = 0) -> VideoInfo:
    container = open_media(path)
    with container:
        fmt_names = set(container.format.name.split(","))
        if not fmt_names & ALLOWED_FORMATS:
            raise ProbeError("unsupported-container", f"container {container.format.name!r} is not accepted")
        if not container.streams.video:
            raise ProbeError("no-video-stream", "the upload has no video stream (audio-only or data file)")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        duration = duration_of(container, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
        codec = stream.codec_context.name
        try:
            if not _first_frame_decodes(container, stream):
                raise ProbeError("undecodable", "the video stream has no decodable frame")
            if duration > 0:
                reached = _last_packet_time(container, stream, duration) - float(stream.start_time or 0) * float(stream.time_base)
                if reached < duration - max(1.0, 2.0 / max(fps, 1.0)):
                    raise ProbeError("truncated", f"the video ends at {reached:.1f}s but its header says {duration:.1f}s")
        except av.error.FFmpegError as exc:
            raise ProbeError("undecodable", f"the video stream cannot be decoded ({exc})") from exc
        return VideoInfo(
            container=container.format.name,
            codec=codec,
            width=int(width),
            height=int(height),
            fps=round(fps, 3),
            duration_s=round(float(duration), 3),
            has_audio=bool(container.streams.audio),
            size_bytes=size_bytes,
        )


def check_limits(info: VideoInfo, settings: Settings | None = None) -> None:
    """Raise ProbeError naming the limit a video exceeds."""
    s = settings or get_settings()
    checks = [
        (info.duration_s > s.MAX_VIDEO_SECONDS, "too-long",
         f"duration {info.duration_s:.1f}s exceeds MAX_VIDEO_SECONDS={s.MAX_VIDEO_SECONDS:g}"),
        (info.duration_s < s.MIN_VIDEO_SECONDS, "too-short",
         f"duration {info.duration_s:.2f}s is under MIN_VIDEO_SECONDS={s.MIN_VIDEO_SECONDS:g}"),
        (info.width > s.MAX_VIDEO_WIDTH or info.height > s.MAX_VIDEO_HEIGHT, "resolution-too-large",
         f"resolution {info.width}x{info.height} exceeds {s.MAX_VIDEO_WIDTH}x{s.MAX_VIDEO_HEIGHT}"),
        (info.width <= 0 or info.height <= 0, "undecodable", "the video stream has no frame size"),
        (info.fps > s.MAX_VIDEO_FPS, "fps-too-high", f"frame rate {info.fps:g} exceeds MAX_VIDEO_FPS={s.MAX_VIDEO_FPS:g}"),
    ]
    for failed, code, detail in checks:
        if failed:
            raise ProbeError(code, detail)
