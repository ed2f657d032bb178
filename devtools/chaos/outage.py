"""What the clients saw during one fault, from the Ledger's answers (`Ledger.call`): requests sent,
answered by status, not answered, and each kind's outage window.

The window is the span in which requests of that kind failed: from the send of the first one that
failed to the answer of the first good one sent after the last that failed. Requests are placed by
when they were sent, so a request that hung to its client timeout marks its send time, not the
30 s it waited (that shows as `worst_wait_s`). Failed: anything but a 2xx, or no answer.
"""

from __future__ import annotations

from collections import Counter


def good(answer: dict) -> bool:
    return answer["status"] is not None and 200 <= answer["status"] < 300


def window(answers: list[dict]) -> dict:
    """`answers`: of one kind, any order. The window is None when the last failure has no good
    answer after it (still failing when the phase ended)."""
    ordered = sorted(answers, key=lambda a: a["t"])
    failed = [a for a in ordered if not good(a)]
    out = {"sent": len(ordered), "failed": len(failed), "window_s": 0.0}
    if failed:
        last = failed[-1]["t"]
        recovered = [a["t"] + a["took"] for a in ordered if good(a) and a["t"] > last]
        out["first_failed_at_s"] = failed[0]["t"]
        out["window_s"] = round(min(recovered) - failed[0]["t"], 2) if recovered else None
        out["failed_by"] = dict(Counter(outcome(a) for a in failed).most_common())
    return out


def outcome(answer: dict) -> str:
    """`503 store-unavailable`, `200`, `no answer (ReadTimeout)`, ..."""
    if answer["status"] is None:
        return f"no answer ({answer['error']})"
    return f"{answer['status']} {answer.get('problem') or ''}".strip()


def summary(answers: list[dict], phase: str, kinds: tuple[str, ...] = ("write", "read")) -> dict:
    """Everything the clients sent in `phase`: counts, the 5xx that said when to retry and those
    that did not, the worst wait, and each kind's window."""
    mine = [a for a in answers if a["phase"] == phase]
    answered = Counter(str(a["status"]) for a in mine if a["status"] is not None)
    server = [a for a in mine if a["status"] is not None and a["status"] >= 500]
    return {
        "sent": len(mine),
        "answered": dict(sorted(answered.items())),
        "not_answered": dict(Counter(a["error"] for a in mine if a["status"] is None)),
        "503_with_retry_after": sum(1 for a in server if a["status"] == 503 and a["retry_after"]),
        "other_5xx": sum(1 for a in server if not (a["status"] == 503 and a["retry_after"])),
        "worst_wait_s": max((a["took"] for a in mine), default=0.0),
        **{kind: window([a for a in mine if a["kind"] == kind]) for kind in kinds},
    }
