"""Rate limits per tier on every endpoint that enqueues work, counted in Redis (flask-limiter).

* One budget per caller, shared by every work-submitting endpoint (POST /v1/videos,
  POST /v1/hotel-prices, POST /v1/echo): flask-limiter's application limit with the scope
  `work`, whose limit string is chosen per request from the caller's tier (`app/tiers.py`):
  anonymous `RATE_LIMIT_ANONYMOUS` per client address, authenticated and premium per key.
  Reads (GET /v1/jobs/…) and probes are not limited: polling a job costs no worker time.
* The counts live in Redis (`RATE_LIMIT_STORAGE_URI`, default REDIS_URL), so every gunicorn
  worker and every API host enforces the same budget. The default strategy is the moving window:
  no double burst at a window boundary.
* Over the limit: 429 with `Retry-After` (seconds) and a JSON problem naming the tier and the
  limit. Every response of a limited endpoint carries `X-RateLimit-Limit`, `-Remaining` and
  `-Reset` (of the tightest limit); `Retry-After` only on a 429.
* An unknown API key is refused with 401 before anything is counted. If the limit store cannot
  be reached, the request is let through and the error logged (`swallow_errors`): the broker is
  the same Redis, so the enqueue itself then answers 503.
"""

from __future__ import annotations

import math
import time

from flask import Flask, g, request
from flask_limiter import ApplicationLimit, Limiter, RateLimitExceeded

from app import context
from app.errors import problem
from app.tiers import identify, limits_for
from brigade.settings import Settings
from worker import work

#: Endpoints (blueprint.view) that put work on a queue: one shared budget per caller (the table of work says which).
WORK_ENDPOINTS = work.rate_limited_endpoints()
SCOPE = "work"


def register_limits(app: Flask, settings: Settings | None = None) -> Limiter:
    """Identify the caller of every /v1/ request (401 for an unknown key), then rate-limit the
    work endpoints by tier; 429 as a JSON problem with Retry-After. `settings` default to the
    app's own (`app.context`); the hooks below close over them, being called inside requests."""
    s = settings or context.settings(app)

    def caller_identity() -> str:
        return identify(s).identity

    def caller_limits() -> str:
        # Evaluated for every request; "" (no limit) except on the endpoints that enqueue work.
        if request.endpoint not in WORK_ENDPOINTS:
            return ""
        return limits_for(identify(s).tier, s)

    @app.before_request
    def _identify_caller():
        # Registered before the limiter's own hook, so a bad key is a 401 and counts nothing.
        if request.path.startswith("/v1/"):
            identify(s)

    @app.after_request  # registered before the limiter's header hook, so it runs after it
    def _tidy_headers(response):
        ours = g.get("brigade_retry_after")  # a 429's exact wait, a 503's RETRY_AFTER_S (app/errors.py)
        if response.status_code in (429, 503) and ours:
            # not flask-limiter's rewrite: int(reset - now) of the rate window, a second early at times
            response.headers["Retry-After"] = str(ours)
        elif response.status_code == 429:
            response.headers["Retry-After"] = str(response.headers.get("Retry-After") or 1)
        elif response.status_code != 503:
            response.headers.pop("Retry-After", None)  # flask-limiter sets it on every limited response
        if response.status_code == 401:
            response.headers.setdefault("WWW-Authenticate", 'Bearer realm="brigade"')
        return response

    limiter = Limiter(
        key_func=caller_identity,
        app=app,
        application_limits=[ApplicationLimit(limit_provider=caller_limits, scope=SCOPE)],
        headers_enabled=True,
        strategy=s.RATE_LIMIT_STRATEGY,
        **limit_storage(s),
        key_prefix=s.KEY_PREFIX,
        swallow_errors=True,
        retry_after="delta-seconds",
    )

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(exc: RateLimitExceeded):
        caller = identify(s)
        current = limiter.current_limit
        retry_after = max(1, math.ceil(current.window.reset_time - time.time())) if current else 1
        response = problem(
            429, "rate-limited",
            f"the {caller.tier} limit of {exc.limit.limit} on work requests is used up; retry in {retry_after} s"
            + ("" if caller.tier != "anonymous" else ", or send an API key for a higher tier"),
            title="Too many requests", tier=caller.tier, limit=str(exc.limit.limit),
            limits=limits_for(caller.tier, s), retry_after_s=retry_after,
        )
        response.headers["Retry-After"] = str(retry_after)
        g.brigade_retry_after = retry_after
        return response

    return limiter


def limit_storage(s: Settings) -> dict:
    """flask-limiter's storage: RATE_LIMIT_STORAGE_URI, else the store (REDIS_URL, through the
    Sentinels when REDIS_SENTINELS is set). With Sentinel the counts are read from the primary
    too (`use_replicas=False`): a lagging replica would let a client past its limit."""
    timeouts = {"socket_timeout": 2, "socket_connect_timeout": 2}
    if s.RATE_LIMIT_STORAGE_URI or not s.sentinels:
        return {"storage_uri": s.RATE_LIMIT_STORAGE_URI or s.REDIS_URL, "storage_options": timeouts}
    from brigade.redis_client import sentinel_options

    hosts = ",".join(f"{host}:{port}" for host, port in s.sentinels)
    return {"storage_uri": f"redis+sentinel://{s.store_auth}{hosts}/{s.REDIS_MASTER_NAME}",
            "storage_options": {**timeouts, "use_replicas": False, "db": s.store_db,
                                "sentinel_kwargs": sentinel_options(2)}}
