"""Job-completion webhooks at the API (docs/WEBHOOKS.md): a work endpoint's `?callback_url=` is
checked here before any job is created, and GET /v1/webhook-secret gives a key holder the secret
its deliveries are signed with. Delivery is a worker's (brigade/webhooks/delivery.py, tasks/webhooks.py)."""

from __future__ import annotations

from flask import Blueprint, request

from app import context
from app.errors import ApiError
from app.tiers import ANONYMOUS, Caller, identify
from brigade.webhooks import destinations, signing

bp = Blueprint("webhooks", __name__)


def _keyed_caller(what: str) -> Caller:
    caller = identify(context.settings())
    if caller.tier == ANONYMOUS:
        raise ApiError(401, "api-key-required", f"{what} needs an API key: webhooks are signed with a secret of "
                       "the caller's key, which anonymous callers do not have", title="API key required")
    return caller


def requested_callback() -> dict:
    """`{callback_url, callback_key}` for `jobs.create_job` when the request names a
    `callback_url`, else {}; ApiError 400 `invalid-callback` (webhooks off, URL not allowed) or
    401 `api-key-required` (anonymous caller)."""
    url = request.args.get("callback_url")
    if url is None:
        return {}
    reason = destinations.off_reason(context.settings())
    if reason:
        raise ApiError(400, "invalid-callback", reason + ": callback_url cannot be used")
    caller = _keyed_caller("callback_url")
    try:
        destinations.check_callback_url(url, context.settings())
    except destinations.CallbackRefused as exc:
        raise ApiError(400, "invalid-callback", str(exc)) from exc
    return {"callback_url": url, "callback_key": caller.identity}


@bp.get("/v1/webhook-secret")
def webhook_secret():
    s = context.settings()
    if not s.WEBHOOK_SIGNING_SECRET:
        raise ApiError(404, "webhooks-disabled", "webhooks are off on this server: WEBHOOK_SIGNING_SECRET is not set")
    caller = _keyed_caller("GET /v1/webhook-secret")
    return ({
        "secret": signing.signing_secret(s.WEBHOOK_SIGNING_SECRET, caller.identity),
        "algorithm": "HMAC-SHA256",
        "timestamp_header": signing.TIMESTAMP_HEADER,
        "signature_header": signing.SIGNATURE_HEADER,
        "signature": f"{signing.SIGNATURE_VERSION}=<hex HMAC-SHA256(secret, '<timestamp>.<raw body>')>",
    }, 200, {"Cache-Control": "no-store"})
