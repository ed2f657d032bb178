"""Which ffmpeg to run, and the flags every invocation shares.

Resolution order: the FFMPEG_BINARY setting, then `ffmpeg` on PATH, then the static binary that the
imageio-ffmpeg wheel ships, so neither `make run` nor `make test` needs a system package.
"""

from __future__ import annotations

import shutil
from functools import lru_cache

from brigade.settings import get_settings
from media.probe import FORMAT_WHITELIST, demuxer_for, max_pixels

#: ffmpeg may open local files and pipes, nothing else: an upload cannot make it fetch a URL
#: (HLS playlists and concat files can otherwise name http:// or other local paths).
PROTOCOL_WHITELIST = "file,pipe"


@lru_cache(maxsize=4)
def ffmpeg_binary(configured: str | None = None) -> str:
    configured = get_settings().FFMPEG_BINARY if configured is None else configured
    if configured:
        found = shutil.which(configured)
        if not found:
            raise FileNotFoundError(f"FFMPEG_BINARY={configured!r} is not an executable")
        return found
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def input_options(path) -> dict:
    """Options for every `ffmpeg.input(path, ...)` that reads an upload: local files only, the
    accepted demuxers only (and the one of its probed container for a stored upload, whatever
    else the bytes could pass for), decoders capped at the largest accepted picture."""
    options = {"protocol_whitelist": PROTOCOL_WHITELIST, "format_whitelist": FORMAT_WHITELIST,
               "max_pixels": str(max_pixels())}
    demuxer = demuxer_for(path)
    return options if demuxer is None else {**options, "f": demuxer}
