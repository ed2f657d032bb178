"""Who is the operator: the caller of the endpoints that describe the deployment itself (/metrics,
the details of /readyz), which the world must not read (hosts, pids, queue depths, error text).

The operator presents OPERATOR_TOKEN (`Authorization: Bearer <token>` or `X-Operator-Token`);
without a token configured, only a loopback caller (the host itself: `make run`, a sidecar) is the
operator. The comparison takes the same time whatever the guess.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import request

from app import context
from app.errors import ApiError


def _presented() -> str:
    token = request.headers.get("X-Operator-Token")
    if token is None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        token = value if scheme.lower() == "bearer" else ""
    return token.strip()


def _loopback() -> bool:
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def is_operator() -> bool:
    expected = context.settings().OPERATOR_TOKEN
    if expected:
        return hmac.compare_digest(_presented().encode(), expected.encode())
    return _loopback()


def require_operator() -> None:
    """403 problem unless the caller is the operator."""
    if not is_operator():
        raise ApiError(403, "operator-only", "this endpoint describes the deployment: send OPERATOR_TOKEN "
                       "(Authorization: Bearer …), or call from the host itself when no token is set",
                       title="Operator only")
