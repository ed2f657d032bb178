"""Probe an upload before a job exists: container, video stream, duration, resolution, fps.

PyAV opens the file in-process (a few ms; the imageio-ffmpeg wheel ships no ffprobe). The limits
hold on what the header says, before any decoder runs: a 243-KB file that declares a
16000x16000 frame costs a header read, not a 768-MB decode. Then one frame is decoded, by one
thread (frame threads would decode the frames after it too) with the decoder capped at the largest
accepted picture (`max_pixels`: a file whose later frames grow past its header is refused by
the decoder itself, here and in every worker's ffmpeg). The duration is the larger of what the
timestamps say and what the packets count (packets / frame rate, from a demux without decoding):
timestamps that restart (an MPEG-TS of ten 2-s pieces says 2 s) cannot smuggle a long video past
MAX_VIDEO_SECONDS or the sharding threshold. A look at the last packets catches truncated files
whose header still parses.

The container found here decides how the upload is stored and read back (`CONTAINERS`): its
extension and the demuxer every later reader forces; the client's file name never does.

The probe travels with the job (`VideoInfo.as_dict()` in every video message): its `facts()` are
what a worker's decoder would read from the stored file's header, so no worker opens it for them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import av

from brigade.settings import Settings, get_settings

#: Containers worth opening; anything else is refused before any decoder sees it.
ALLOWED_FORMATS = {"mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "mpegts", "flv", "mpeg"}
#: The same, as the `format_whitelist` option of every demuxer that opens an upload.
FORMAT_WHITELIST = ",".join(sorted(ALLOWED_FORMATS))
#: An accepted container (PyAV's format name) -> (the extension it is stored under, the demuxer
#: every later reader of the stored file forces).
CONTAINERS = {
    "mov,mp4,m4a,3gp,3g2,mj2": ("mp4", "mov"),
    "matroska,webm": ("mkv", "matroska"),
    "avi": ("avi", "avi"),
    "mpegts": ("ts", "mpegts"),
    "flv": ("flv", "flv"),
    "mpeg": ("mpg", "mpeg"),
}
_DEMUXER_FOR_EXTENSION = dict(CONTAINERS.values())
#: Any one demuxer name -> its CONTAINERS key (a file opened with a forced demuxer reports that name alone).
_CONTAINER_OF = {name: key for key in CONTAINERS for name in key.split(",")}


def demuxer_for(path) -> str | None:
    """The demuxer to force on a stored upload (named by the API from its probed container), or
    None for a file whose extension the API did not choose (the format whitelist still holds)."""
    return _DEMUXER_FOR_EXTENSION.get(str(path).rsplit(".", 1)[-1].lower())


def max_pixels(settings: Settings | None = None) -> int:
    """The largest picture any decoder may allocate: the resolution limit's area."""
    s = settings or get_settings()
    return s.MAX_VIDEO_WIDTH * s.MAX_VIDEO_HEIGHT


def decoder_caps(settings: Settings | None = None) -> dict[str, str]:
    """Codec options for every decoder of untrusted media: one thread, pictures up to max_pixels."""
    return {"max_pixels": str(max_pixels(settings)), "threads": "1"}


class ProbeError(Exception):
    """The upload is not a video we accept; `.code` names why (for the API's problem type)."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class VideoFacts:
    """What choosing the decoder's options needs to know of a file, read from its header."""

    duration_s: float  # the container's
    codec: str  # ffmpeg's decoder name for the first video stream ("h264", "hevc", "mjpeg", ...)
    start_s: float = 0.0  # the file's first timestamp (`start_of`): where ffmpeg's time 0 lies
    width: int = 0  # the coded picture size (what the frame taps scale from)
    height: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, sent: dict | None) -> VideoFacts | None:
        """The facts a message carries, or None (none sent, or not facts this release knows):
        the worker then reads them from the file."""
        try:
            return cls(**sent)
        except TypeError:
            return None


@dataclass(frozen=True)
class VideoInfo:
    container: str
    codec: str
    width: int
    height: int
    fps: float
    duration_s: float  # the longer of the header's and the packets' (what the limits hold on)
    has_audio: bool
    size_bytes: int
    # What a worker's decoder needs (`facts`); None in a probe of an older release, which has neither.
    start_s: float | None = None
    header_duration_s: float | None = None  # the container's own, unrounded: where a decode ends

    def as_dict(self) -> dict:
        return asdict(self)

    def facts(self) -> VideoFacts | None:
        """The stream facts a worker would read from the header (`media.frames.probe_video`), so a
        job's workers need not open the file to know them; None when this probe lacks them or the
        header names no duration (the worker then probes, and refuses the file as it always did)."""
        if self.start_s is None or not self.header_duration_s or self.header_duration_s <= 0:
            return None
        return VideoFacts(self.header_duration_s, self.codec, self.start_s, self.width, self.height)

    @property
    def extension(self) -> str:
        """What the upload is stored as: the probed container's, never the client's."""
        return CONTAINERS[self.container][0]


def info_of(probed: dict | None) -> VideoInfo | None:
    """The probe a message carries (`VideoInfo.as_dict()`), or None: none sent, or not a probe
    this release knows."""
    try:
        return VideoInfo(**probed)
    except TypeError:
        return None


def facts_of(probed: dict | None) -> VideoFacts | None:
    """The stream facts of the probe a message carries, or None when it carries none (the worker
    then reads them from the file)."""
    info = info_of(probed)
    return info.facts() if info is not None else None


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


def open_media(path, settings: Settings | None = None):
    """PyAV container of `path`, opened with whitelists: an upload may not make the demuxer open
    other files or the network (an HLS playlist or a concat script names other resources) nor
    pick an exotic demuxer; a stored upload is read with the demuxer of its probed container.
    The decoders that opening runs to find the streams' parameters are capped (PyAV hands these
    options to each stream the header declares; MPEG-TS/PS declare none up front). ProbeError when
    it is not readable media."""
    options = {"protocol_whitelist": "file", "format_whitelist": FORMAT_WHITELIST, **decoder_caps(settings)}
    try:
        return av.open(str(path), format=demuxer_for(path), metadata_errors="ignore", options=options)
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


def _packet_count(container, stream) -> int:
    """Video packets in the file, by demuxing from the start without decoding."""
    container.seek(0, stream=stream, backward=True)
    return sum(1 for packet in container.demux(stream) if packet.size)


def probe(path: str, size_bytes: int = 0, settings: Settings | None = None) -> VideoInfo:
    """The upload's VideoInfo, or ProbeError naming why it is refused (limits included)."""
    container = open_media(path, settings)
    with container:
        kind = _CONTAINER_OF.get(container.format.name.split(",")[0])
        if kind is None:
            raise ProbeError("unsupported-container", f"container {container.format.name!r} is not accepted")
        if not container.streams.video:
            raise ProbeError("no-video-stream", "the upload has no video stream (audio-only or data file)")
        stream = container.streams.video[0]
        codec_context = stream.codec_context
        if codec_context is None:  # a codec id this build of ffmpeg does not know
            raise ProbeError("unsupported-codec", "the video stream's codec is not one we can decode")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        header_duration = duration_of(container, stream)
        info = VideoInfo(container=kind, codec=codec_context.name, width=int(codec_context.width),
                         height=int(codec_context.height), fps=round(fps, 3), duration_s=round(float(header_duration), 3),
                         has_audio=bool(container.streams.audio), size_bytes=size_bytes,
                         start_s=start_of(container), header_duration_s=duration_of(container))
        check_limits(info, settings)  # on the header, before any decoder runs
        try:
            packets = _packet_count(container, stream)
            if fps > 0 and packets / fps > header_duration + max(1.0, 2.0 / fps):
                info = replace(info, duration_s=round(packets / fps, 3))
                check_limits(info, settings)
            stream.thread_type = "NONE"
            codec_context.options = decoder_caps(settings)
            container.seek(0, stream=stream, backward=True)
            if not _first_frame_decodes(container, stream):
                raise ProbeError("undecodable", "the video stream has no decodable frame")
            if header_duration > 0:
                reached = _last_packet_time(container, stream, header_duration) - float(stream.start_time or 0) * float(stream.time_base)
                if reached < header_duration - max(1.0, 2.0 / max(fps, 1.0)):
                    raise ProbeError("truncated", f"the video ends at {reached:.1f}s but its header says {header_duration:.1f}s")
        except av.error.FFmpegError as exc:
            raise ProbeError("undecodable", f"the video stream cannot be decoded ({exc.__class__.__name__})") from exc
        return info


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
        (info.width <= 0 or info.height <= 0, "undecodable",
         f"the video stream has no frame size the decoder accepts (none, or over {s.MAX_VIDEO_WIDTH}x{s.MAX_VIDEO_HEIGHT})"),
        (info.fps > s.MAX_VIDEO_FPS, "fps-too-high", f"frame rate {info.fps:g} exceeds MAX_VIDEO_FPS={s.MAX_VIDEO_FPS:g}"),
    ]
    for failed, code, detail in checks:
        if failed:
            raise ProbeError(code, detail)
