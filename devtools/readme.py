"""Generated sections of a markdown file: the text between a start and an end marker."""

from __future__ import annotations

import re
from pathlib import Path


def replace_between(path: Path, start: str, end: str, body: str) -> None:
    """Put `body` between the markers in `path` (the markers stay). The replacement is a function,
    so backslashes in a table are not read as regex escapes. Raises if the markers are missing."""
    text = path.read_text()
    pattern = re.compile(f"{re.escape(start)}.*?{re.escape(end)}", flags=re.S)
    if not pattern.search(text):
        raise ValueError(f"{path.name} has no {start} ... {end} section")
    path.write_text(pattern.sub(lambda _: f"{start}\n{body.strip()}\n{end}", text))
