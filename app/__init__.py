"""The Flask API: an app factory. It enqueues work by task name and reads job records; it never
imports torch (tests check this). Importing the package imports nothing else: `create_app` loads
Flask, so the CLI client in `app.client` runs with `requests` alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

    from brigade.settings import Settings

# Room for multipart boundaries and headers around a file of exactly MAX_UPLOAD_BYTES.
MULTIPART_OVERHEAD = 64 * 1024


def create_app(settings: Settings | None = None, *, celery=None) -> Flask:
    """The API, serving with `settings` (default: `get_settings()`, the environment's) and sending
    tasks with `celery` (default: `worker.celery_app.app`). Both ride on the app (`app.context`):
    every view, hook and helper of a request reads them there, so a test can build an app with
    its own settings and a Celery stand-in that records what would have been sent."""
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app import context
    from app.errors import register_error_handlers
    from app.uploads import StreamingRequest, discard_uncommitted
    from brigade.settings import get_settings

    s = settings or get_settings()
    if celery is None:
        from worker.celery_app import app as celery  # the Celery app only, never the task modules (torch)
    app = Flask(__name__)
    context.install(app, s, celery)
    app.request_class = StreamingRequest
    app.config.update(MAX_CONTENT_LENGTH=s.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD)
    app.json.sort_keys = False
    if s.TRUSTED_PROXY_HOPS:
        # Only then do X-Forwarded-* headers count: otherwise any client could claim any address
        # and dodge the anonymous rate limit, which is counted per address.
        hops = s.TRUSTED_PROXY_HOPS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops)

    from app import health, hotels, jobs_api, openapi, videos, web, webhooks
    from app.limits import register_limits
    from app.metrics import register_metrics

    for blueprint in (videos.bp, jobs_api.bp, health.bp, openapi.bp, hotels.bp, web.bp, webhooks.bp):
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    register_limits(app, s)
    register_metrics(app)

    @app.teardown_request
    def _drop_unused_uploads(_exc=None):
        from flask import request

        discard_uncommitted(request.environ)

    return app
