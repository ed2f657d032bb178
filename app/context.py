"""What the Flask app serving this request carries: its Settings and the Celery app it sends with.

`create_app(settings, celery=...)` stores both with `install()` in `app.extensions["brigade"]`;
code that runs inside a request (views, hooks, error handlers, the /metrics scrape) reads them
with `settings()` and `celery()`, never `get_settings()` or `worker.celery_app.app`. So an app
built with its own Settings and a stand-in Celery (the tests' recorder) serves with exactly those.

Outside a request there is no current app, and these raise RuntimeError (Flask's "working outside
of application context"). Code that runs there reads what it is given instead: `create_app`
defaults to `get_settings()` and `worker.celery_app.app`, `register_limits` takes the settings
`create_app` chose, and `app/gunicorn_conf.py` reads its own environment variables before any
app exists. The modules of `brigade/` (job records, the Redis client, upload storage) still
read the process-wide `get_settings()`: the API and the workers must agree on those.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:
    from brigade.settings import Settings

EXTENSION = "brigade"


def install(app: Flask, settings: Settings, celery: Any) -> None:
    """Attach `settings` and `celery` (anything with Celery's `send_task` and
    `connection_for_write`) to `app`."""
    app.extensions[EXTENSION] = {"settings": settings, "celery": celery}


def settings(app: Flask | None = None) -> Settings:
    """The Settings of `app`, by default the app serving the current request."""
    return (app or current_app).extensions[EXTENSION]["settings"]


def celery(app: Flask | None = None) -> Any:
    """The Celery app `app` (by default the current one) sends tasks with."""
    return (app or current_app).extensions[EXTENSION]["celery"]
