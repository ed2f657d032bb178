"""The app layer's kit: the API built in this process, `create_app(settings, celery=Recorder())`,
served through Flask's test client against the session's test Redis (tests/conftest.py starts it
and points the process-wide settings at it). No gunicorn, no worker: what the API sends is
recorded by the Recorder, which can also play the broker that does not answer, or a worker that
finishes the job as soon as it is sent.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from jsonschema import Draft202012Validator
from kombu.exceptions import OperationalError

from app import create_app
from app.openapi import SPEC
from brigade.settings import Settings


@dataclass(frozen=True)
class Sent:
    """One `send_task` call, as the broker would have received it."""

    name: str
    kwargs: dict
    task_id: str
    priority: int | None


class Recorder:
    """A stand-in for the Celery app, with the two methods the API uses (`send_task`,
    `connection_for_write`). `down = True`: both fail as with an unreachable broker (kombu's
    OperationalError). `on_send`: called with each accepted task, e.g. to finish its job as a
    worker would."""

    def __init__(self, on_send: Callable[[Sent], None] | None = None):
        self.sent: list[Sent] = []
        self.refused: list[Sent] = []
        self.down = False
        self.on_send = on_send

    def send_task(self, name, args=None, kwargs=None, task_id=None, priority=None, **options):
        call = Sent(name, dict(kwargs or {}), task_id, priority)
        if self.down:
            self.refused.append(call)
            raise OperationalError("Error 111 connecting to the broker: Connection refused.")
        self.sent.append(call)
        if self.on_send:
            self.on_send(call)
        return call

    def connection_for_write(self):
        return _Connection(self)

    def only(self) -> Sent:
        """The one task sent; fails when there were none or several."""
        assert len(self.sent) == 1, self.sent
        return self.sent[0]


class _Connection:
    def __init__(self, recorder: Recorder):
        self._recorder = recorder

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def ensure_connection(self, **_):
        if self._recorder.down:
            raise OperationalError("Error 111 connecting to the broker: Connection refused.")
        return self


def settings_with(**overrides) -> Settings:
    """The session's settings (its environment: test Redis, temp uploads) with `overrides`,
    given as the environment would give them."""
    return Settings.from_env({**os.environ, **{name: str(value) for name, value in overrides.items()}})


def build_app(recorder: Recorder, **overrides) -> Flask:
    app = create_app(settings_with(**overrides), celery=recorder)
    app.testing = True
    return app


def problem(response, status: int, code: str) -> dict:
    """An application/problem+json body with this status and type `.../<code>`, valid against the
    API's own OpenAPI `Problem` schema; returns the body."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["type"].endswith("/" + code), body
    conforms(body, "Problem")
    documented(response)
    return body


def documented(response) -> None:
    """The status is one that /openapi.json documents for the request's path and method."""
    request = response.request
    for template, operations in SPEC["paths"].items():
        if re.fullmatch(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)), request.path):
            responses = operations[request.method.lower()]["responses"]
            assert str(response.status_code) in responses, (request.method, template, response.status_code, sorted(responses))
            return
    raise AssertionError(f"{request.path} is not in /openapi.json")


def conforms(body: dict, schema: str) -> None:
    """`body` is valid against `#/components/schemas/<schema>` of /openapi.json."""
    validator = Draft202012Validator({"$ref": f"#/components/schemas/{schema}", "components": SPEC["components"]})
    errors = [e.message for e in validator.iter_errors(json.loads(json.dumps(body)))]
    assert not errors, (schema, errors, body)


def upload(client, path: Path, query: str = "", **kwargs):
    """POST /v1/videos with `path` as the multipart `video` field."""
    with open(path, "rb") as fh:
        return client.post(f"/v1/videos{query}", data={"video": (fh, path.name)}, content_type="multipart/form-data", **kwargs)
