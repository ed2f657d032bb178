"""Read a running ffmpeg's stderr: why it failed, the scene cuts its shot branch reports, and how
many frames its decoder decoded.

ffmpeg runs at `-loglevel level+verbose` (LOGLEVEL): every line carries its level, and the verbose
summary at exit counts the frames the decoder produced ("N frames decoded"), which is how a result
tells how much of the video was decoded (`-skip_frame` drops frames before the filters ever see
them, so no filter could count them). Verbose adds some 60 lines per run, not per frame. Reading the
pipe also keeps ffmpeg from blocking on it when it fills.
"""

from __future__ import annotations

import collections
import re

LOGLEVEL = "level+verbose"
STDERR_TAIL_LINES = 20
_SHOWINFO_PTS = re.compile(r"Parsed_showinfo.*?pts_time:\s*([0-9.]+)")
_DECODED = re.compile(r"Input stream #\d+:\d+ \(video\):.*?(\d+) frames decoded")
#: Lines at these levels are chatter, not a reason for a failure: the error tail leaves them out.
_CHATTER = re.compile(r"\[(verbose|debug|trace)\] ")

#: ffmpeg stderr fragment -> the reason a client reads.
_REASONS = (
    ("exceeds specified max pixel count", "a frame is larger than the accepted resolution"),
    ("Invalid data found", "the video data is corrupt"),
    ("Error while decoding", "the video data is corrupt"),
    ("No such file", "the stored video is missing"),
)


def reason_in(line: str) -> str | None:
    return next((reason for fragment, reason in _REASONS if fragment in line), None)


class StderrLog:
    """What one ffmpeg run said: the last lines that are not chatter (`tail`, for the worker's log),
    the first reason a client may read (`reasons`), the scene cuts the shot branch printed (appended
    to `cuts`, in the file's time: `offset` plus the output's time), and `frames_decoded`."""

    def __init__(self, cuts: list | None = None, offset: float = 0.0):
        self.tail: collections.deque = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.reasons: list[str] = []
        self.cuts, self.offset = cuts, offset
        self.frames_decoded: int | None = None
        self._first_shot = True

    def read(self, stream) -> None:
        """Consume the stream (bytes lines) to its end, then close it."""
        for line in iter(stream.readline, b""):
            self.feed(line.decode("utf-8", "replace").rstrip())
        stream.close()

    def feed(self, text: str) -> None:
        shot = _SHOWINFO_PTS.search(text) if self.cuts is not None else None
        if shot is not None:
            if self._first_shot:  # the branch's first frame passes unconditionally (media.frames.build_command)
                self._first_shot = False
            else:
                self.cuts.append(round(self.offset + float(shot.group(1)), 3))
            return
        decoded = _DECODED.search(text)
        if decoded is not None:
            self.frames_decoded = (self.frames_decoded or 0) + int(decoded.group(1))
        reason = reason_in(text)
        if reason and not self.reasons:  # the first says why; the rest follow from it
            self.reasons.append(reason)
        if "Parsed_showinfo" not in text and not _CHATTER.search(text):
            self.tail.append(text)
