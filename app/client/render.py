"""What the client prints: progress on stderr (a redrawn bar on a terminal, a plain line now and
then otherwise) and the results as aligned text tables. Pure functions of their inputs, except
Progress, which writes to the stream it is given."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TextIO

MAX_RANGES = 6  # time ranges shown per tag; the rest are counted


# --- numbers -------------------------------------------------------------------------------------


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def number(x: float) -> str:
    """12 -> '12', 3.25 -> '3.2', 3.0 -> '3'."""
    return f"{x:.1f}".removesuffix(".0")


def money(x: float | None) -> str:
    return "-" if x is None else f"${x:,.2f}"


def bar(fraction: float | None, width: int = 24) -> str:
    """`[#########...............]`; an unknown fraction draws an empty bar."""
    filled = round(width * min(max(fraction or 0.0, 0.0), 1.0))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def percent(fraction: float | None) -> str:
    return "  ?%" if fraction is None else f"{100 * min(max(fraction, 0.0), 1.0):3.0f}%"


# --- progress ------------------------------------------------------------------------------------


class Progress:
    """One line of progress on `stream`. On a terminal the line is redrawn in place (at most every
    `min_interval_s`, and whenever the phase changes); elsewhere (a log, a pipe) a plain line is
    written when the phase changes or the fraction passes the next of `steps` equal steps."""

    def __init__(self, stream: TextIO, label: str, *, tty: bool | None = None, steps: int = 4,
                 min_interval_s: float = 0.1, clock: Callable[[], float] = time.monotonic):
        self.stream, self.label, self.steps = stream, label, steps
        self.tty = stream.isatty() if tty is None else tty
        self.min_interval_s, self.clock = min_interval_s, clock
        self._phase: str | None = None
        self._step = -1
        self._drawn_at: float | None = None
        self._width = 0  # of the line on screen, to blank what a shorter one leaves

    def line(self, fraction: float | None, detail: str = "") -> str:
        return f"{self.label} {bar(fraction)} {percent(fraction)}" + (f"  {detail}" if detail else "")

    def update(self, fraction: float | None, detail: str = "", phase: str = "") -> None:
        phase_changed = phase != self._phase
        self._phase = phase
        if self.tty:
            now = self.clock()
            if not phase_changed and self._drawn_at is not None and now - self._drawn_at < self.min_interval_s and fraction != 1:
                return
            self._drawn_at = now
            text = self.line(fraction, detail)
            self.stream.write("\r" + text + " " * max(0, self._width - len(text)))
            self._width = len(text)
        else:
            step = -1 if fraction is None else int(min(max(fraction, 0.0), 1.0) * self.steps)
            if not phase_changed and step <= self._step:
                return
            self._step = max(step, self._step) if not phase_changed else step
            self.stream.write(self.line(fraction, detail) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the redrawn line (a terminal); nothing to do for plain lines."""
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def job_progress(body: dict) -> tuple[float | None, str, str]:
    """(fraction, detail, phase) of a job body's progress, for Progress.update."""
    status = body.get("status", "?")
    progress = body.get("progress") or {}
    total = progress.get("total") or 0
    fraction = None if status == "queued" or not total else (progress.get("percent") or 0.0) / 100
    detail = status
    if total and status != "queued":
        detail += f"  {number(progress.get('done') or 0)}/{number(total)} {progress.get('unit') or ''}".rstrip()
    return fraction, detail, status


# --- tables --------------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]], align: str = "") -> str:
    """Columns two spaces apart; `align` has one letter per column, `l` or `r` (default `l`)."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=False)]
    align = align.ljust(len(headers), "l")

    def fmt(row):
        cells = [str(c).rjust(w) if a == "r" else str(c).ljust(w) for c, w, a in zip(row, widths, align, strict=False)]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)])


def ranges(spans: list, limit: int = MAX_RANGES) -> str:
    shown = ", ".join(f"{number(a)}-{number(b)}" for a, b in spans[:limit])
    return shown + (f", +{len(spans) - limit} more" if len(spans) > limit else "")


def model_name(model: dict | None) -> str:
    if not model:
        return "?"
    return f"{model.get('name')}@{model.get('version')}" + (f" ({model['device']})" if model.get("device") else "")


def job_header(body: dict) -> str:
    """`job <id>: succeeded (single)`: the first line of every job the CLI shows."""
    return f"job {body.get('job_id')}: {body.get('status')}" + (f" ({body['mode']})" if body.get("mode") else "")


def tags_report(body: dict) -> str:
    """A video-tags job's result: summary line, tags with their time ranges, the people, faces and
    text asked for, and the segments of a sharded job."""
    result = body.get("result") or {}
    tags, timeline, shots = result.get("tags") or [], result.get("timeline") or {}, result.get("shots") or []
    summary = [job_header(body)]
    if result.get("duration_s") is not None:
        summary.append(f"{number(result['duration_s'])} s of video")
    summary += [f"{len(shots)} shot{'s' if len(shots) != 1 else ''}", f"model {model_name(result.get('model'))}"]
    lines = [", ".join(summary), ""]
    if tags:
        rows = [[t["label"], f"{t.get('score', 0):.3f}", number(t.get("covered_s") or 0), ranges(timeline.get(t["label"], []))]
                for t in tags]
        lines.append(table(["tag", "score", "covered s", "time ranges (s)"], rows, "lrrl"))
    else:
        lines.append("no tags")
    for block in features_report(result):
        lines += ["", block]
    segments = result.get("segments") or []
    if segments:
        rows = [[s.get("segment_id"), f"{number(s['start'])}-{number(s['end'])}", s.get("worker") or "-",
                 ", ".join(t["label"] for t in s.get("tags") or []) or "-"] for s in segments]
        lines += ["", table(["segment", "range (s)", "worker", "tags"], rows, "rrll")]
    return "\n".join(lines)


def counted(n: int, word: str) -> str:
    """`1 frame`, `3 frames`."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def count_line(feature: str, series: dict) -> str:
    """`people` or `faces` of a result on one line: the most at once and when any are on screen,
    or that none were seen (which frames it looked at says how hard it looked)."""
    sampled = series.get("sampled") or 0
    if not series.get("max_count"):
        return f"{feature}: none seen in {counted(sampled, 'sampled frame')}"
    with_any = sum(1 for row in series.get("samples") or [] if row.get("count"))
    return (f"{feature}: up to {series['max_count']} at once, on screen {ranges(series.get('seen') or [])}"
            f" ({with_any} of {counted(sampled, 'sampled frame')})")


def text_report(entries: list[dict]) -> str:
    """The `text` of a result: each string read on screen, with its confidence, how many sampled
    frames read it and when it is on screen, in order of first appearance."""
    if not entries:
        return "no text read"
    rows = [[e.get("text", ""), f"{e.get('confidence', 0):.3f}", e.get("reads", 0), ranges(e.get("ranges") or [])]
            for e in entries]
    return table(["text on screen", "confidence", "reads", "time ranges (s)"], rows, "lrrl")


def features_report(result: dict) -> list[str]:
    """The blocks the per-frame features add to a video result (none for a labels-only job)."""
    counts = [count_line(feature, result[feature]) for feature in ("people", "faces") if feature in result]
    blocks = ["\n".join(counts)] if counts else []
    if "text" in result:
        blocks.append(text_report(result["text"]))
    return blocks


def hotels_report(body: dict) -> str:
    """A hotel-prices result (a 200 body, or a job body's `result`): the stay, then one row per hotel."""
    result = body.get("result", body)
    nights = result.get("nights")
    stay = (f"{result.get('destination')}, {result.get('check_in')} to {result.get('check_out')}"
            f" ({nights} night{'s' if nights != 1 else ''}), {result.get('guests')} guest{'s' if result.get('guests') != 1 else ''}")
    if result.get("budget") is not None:
        stay += f", budget {money(result['budget'])}"
    lines = [f"{stay}; model {model_name(result.get('model'))}", ""]
    rows = [[h.get("name"), h.get("stars"), money(h.get("nightly_price")),
             "-".join(money(x) for x in h.get("interval") or []) or "-", f"{h.get('confidence', 0):.2f}",
             money(h.get("total_price")), {True: "yes", False: "no"}.get(h.get("within_budget"), "-")]
            for h in result.get("hotels") or []]
    lines.append(table(["hotel", "stars", "nightly", "80% interval", "confidence", "total", "within budget"], rows, "lrrrrrl")
                 if rows else "no hotels")
    return "\n".join(lines)


def job_report(body: dict) -> str:
    """Any job: its result as a table when its kind has one, else its status and progress."""
    if body.get("status") == "succeeded" and body.get("kind") == "video-tags":
        return tags_report(body)
    if body.get("status") == "succeeded" and body.get("kind") == "hotel-prices":
        return job_header(body) + "\n" + hotels_report(body)
    if body.get("status") == "succeeded":
        return job_header(body) + "\nresult: " + json.dumps(body.get("result"))
    fraction, detail, _ = job_progress(body)
    return job_header(body) + (f", {percent(fraction).strip()}" if fraction is not None else "") + f"\nprogress: {detail}"
