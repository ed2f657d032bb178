"""One delivery attempt of a job's webhook: the signed POST to the checked address, its outcome
and backoff, and the delivery state kept on the job's record (`webhook`)."""

from __future__ import annotations

import http.client
import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from brigade import job_body, jobs
from brigade.settings import Settings, get_settings
from brigade.webhooks.destinations import CallbackRefused, Destination, resolve_destination
from brigade.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signing_secret

log = logging.getLogger(__name__)

#: Answers worth another attempt; any other non-2xx answer will not change by retrying.
RETRY_STATUSES = frozenset({408, 429})
PENDING, RETRYING, DELIVERED, FAILED = "pending", "retrying", "delivered", "failed"


def post(destination: Destination, body: bytes, headers: dict, timeout_s: float) -> tuple[int, str | None]:
    """POST `body` to the checked address (TLS still verifies the host's certificate); the status
    and Retry-After. Redirects are not followed."""
    kind = http.client.HTTPSConnection if destination.scheme == "https" else http.client.HTTPConnection
    conn = kind(destination.host, destination.port, timeout=timeout_s)

    def connect_to_checked_address(address, *args, **kwargs):
        return socket.create_connection((destination.address, address[1]), *args, **kwargs)

    conn._create_connection = connect_to_checked_address
    try:
        conn.request("POST", destination.target, body=body, headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status, response.getheader("Retry-After")
    finally:
        conn.close()


def public_state(state: dict) -> dict:
    """What a client sees of the delivery (GET /v1/jobs/<id>: `webhook`)."""
    return {k: state[k] for k in ("status", "attempts", "last_error", "last_status_code", "last_attempt_at") if k in state}


def backoff_s(attempts: int, s: Settings, retry_after: str | None = None) -> float:
    """Wait after `attempts` failed attempts: WEBHOOK_BACKOFF_S doubling, at most WEBHOOK_BACKOFF_MAX_S;
    longer if the receiver asked for it (Retry-After seconds, within the same cap)."""
    delay = s.WEBHOOK_BACKOFF_S * 2 ** (attempts - 1)
    if retry_after and retry_after.strip().isdigit():
        delay = max(delay, float(retry_after))
    return min(delay, s.WEBHOOK_BACKOFF_MAX_S)


@dataclass(frozen=True)
class Attempt:
    status: str  # delivered | retrying | failed | skipped
    retry_in_s: float | None = None


def payload(record: dict) -> bytes:
    """The webhook's body: the job as GET /v1/jobs/<id> renders it (without its `webhook` state)."""
    return json.dumps(job_body.render(record), separators=(",", ":")).encode()


def attempt_delivery(job_id: str, s: Settings | None = None, *, resolve: Callable = socket.getaddrinfo,
                     send: Callable = post) -> Attempt:
    """One delivery attempt of the job's webhook, its outcome written to the record (`webhook`)."""
    s = s or get_settings()
    record = jobs.get_job(job_id)
    if record is None or not record.get("webhook") or record["status"] not in jobs.TERMINAL:
        return Attempt("skipped")
    state = record["webhook"]
    if state.get("for_status") != record["status"]:  # first delivery, or the job ended again otherwise
        state = {"key": state.get("key", ""), "for_status": record["status"], "attempts": 0}
    elif state.get("status") in (DELIVERED, FAILED):  # a duplicate task (at least once): done already
        return Attempt("skipped")
    attempts = state["attempts"] + 1
    state = {**state, "attempts": attempts, "last_attempt_at": time.time(), "last_error": None, "last_status_code": None}
    retry_after = None
    try:
        if not s.WEBHOOK_SIGNING_SECRET:
            raise CallbackRefused("this worker has no WEBHOOK_SIGNING_SECRET: it cannot sign")
        destination = resolve_destination(record["input"]["callback_url"], s, resolve)
        body = payload(record)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "brigade-webhooks/1",
            "X-Brigade-Event": f"job.{record['status']}",
            "X-Brigade-Job": job_id,
            "X-Brigade-Attempt": str(attempts),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(signing_secret(s.WEBHOOK_SIGNING_SECRET, state["key"]), timestamp, body),
        }
        code, retry_after = send(destination, body, headers, s.WEBHOOK_TIMEOUT_S)
        state["last_status_code"] = code
        if 200 <= code < 300:
            outcome = DELIVERED
        else:
            state["last_error"] = f"the receiver answered {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
            outcome = RETRYING if code in RETRY_STATUSES or code >= 500 else FAILED
    except ValueError as exc:  # CallbackRefused, or a WEBHOOK_ALLOWED_HOSTS that does not parse
        state["last_error"], outcome = str(exc), FAILED
    except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, no DNS answer
        state["last_error"], outcome = f"{exc.__class__.__name__}: {exc}"[:500], RETRYING
    if outcome == RETRYING and attempts >= s.WEBHOOK_MAX_ATTEMPTS:
        outcome = FAILED
    state["status"] = outcome
    set_state(job_id, state)
    if outcome != DELIVERED:
        log.warning("webhook of job %s, attempt %d: %s (%s)", job_id, attempts, outcome, state["last_error"])
    return Attempt(outcome, backoff_s(attempts, s, retry_after) if outcome == RETRYING else None)


def set_state(job_id: str, state: dict) -> None:
    """The delivery state of the job's webhook; `updated_at` stays the job's own (the payload has it)."""
    jobs.write_fields(job_id, {"webhook": state})
