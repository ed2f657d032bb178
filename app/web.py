"""GET /: the web page, plain HTML, CSS and JavaScript from `app/static/` (no build step).

The page is a client of the public API only (POST /v1/videos, GET /v1/jobs/<id>?wait=,
GET /v1/hotel-destinations, POST /v1/hotel-prices), from the same origin. Its files are served by
Flask's `static` route (`/static/<file>`); the page and those files carry a Content-Security-Policy
that allows this origin alone: no inline script or style, no other host (nothing is fetched from
the internet), and `blob:` for the video, which plays from an object URL of the local file.
"""

from __future__ import annotations

from flask import Blueprint, current_app, request

bp = Blueprint("web", __name__)

CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PAGE_ENDPOINTS = {"web.index", "static"}


@bp.get("/")
def index():
    return current_app.send_static_file("index.html")


@bp.after_app_request
def _page_headers(response):
    if request.endpoint in PAGE_ENDPOINTS:
        response.headers.update(PAGE_HEADERS)
    return response
