"""Read a JSON request body at a bounded cost, for every endpoint that takes one.

* 415 `unsupported-media-type`: the body is not declared as JSON (`Content-Type: application/json`).
* 413 `body-too-large`: over the endpoint's byte limit, by Content-Length before reading, or while
  reading (at most limit + 1 bytes are read).
* 400 `malformed-json`: not JSON (syntax, not UTF-8, NaN/Infinity, an integer of over 4300 digits),
  empty, or nested deeper than MAX_DEPTH (checked by a scan before parsing: a body of 16 KB of
  `[` would otherwise exhaust the parser's recursion and answer 500).
"""

from __future__ import annotations

import json

from app.errors import ApiError

#: Arrays and objects inside each other: no query of ours needs more than a few.
MAX_DEPTH = 32


def read_json_body(request, max_bytes: int) -> object:
    """The parsed JSON body of a Flask request; 415, 413 or 400 problems otherwise."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, "unsupported-media-type",
                       f"send the body as JSON with `Content-Type: application/json`; got {mimetype or 'no content type'!r}")
    too_large = ApiError(413, "body-too-large", f"the body exceeds {max_bytes} bytes", limit_bytes=max_bytes)
    if request.content_length is not None and request.content_length > max_bytes:
        raise too_large
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise too_large
    if not raw.strip():
        raise ApiError(400, "malformed-json", "the body is empty; send a JSON object")
    if nesting_depth(raw) > MAX_DEPTH:
        raise ApiError(400, "malformed-json", f"the body nests arrays/objects deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "malformed-json", f"the body is not valid JSON: {exc}") from exc


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of `[`/`{` in JSON text, brackets inside strings not counted."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
