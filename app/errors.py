"""JSON problem bodies (RFC 9457: type, title, status, detail) for every error the API returns."""

from __future__ import annotations

import redis
from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException

from brigade.redis_client import TRANSIENT

PROBLEM_BASE = "https://brigade.dev/problems/"
#: Seconds a client should wait before retrying after a 503 (a Redis stall or restart).
RETRY_AFTER_S = 5


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, **extra):
        super().__init__(detail)
        self.status, self.code, self.detail, self.extra = status, code, detail, extra


def problem(status: int, code: str, detail: str, title: str | None = None, **extra):
    body = {
        "type": PROBLEM_BASE + code,
        "title": title or code.replace("-", " ").capitalize(),
        "status": status,
        "detail": detail,
        **extra,
    }
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def retry_later(response):
    """A 503 says when to come back: RETRY_AFTER_S, also kept in `g` so that the rate limiter's
    own Retry-After (its window's reset) does not replace it (app/limits.py)."""
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    g.brigade_retry_after = RETRY_AFTER_S
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        response = problem(exc.status, exc.code, exc.detail, **exc.extra)
        return retry_later(response) if exc.status == 503 else response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "-")
        return problem(exc.code or 500, code, exc.description or exc.name, title=exc.name)

    @app.errorhandler(redis.RedisError)
    def _store_unavailable(exc: redis.RedisError):
        if not isinstance(exc, TRANSIENT):
            return _unexpected(exc)
        app.logger.warning("Redis unavailable: %s", exc)
        return retry_later(problem(503, "store-unavailable", "the job store does not answer; nothing was done, retry later",
                                   retry_after_s=RETRY_AFTER_S))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return problem(500, "internal-error", "the server failed to handle this request; it has been logged")
