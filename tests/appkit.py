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
from urllib.parse import urlsplit

import requests
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
    """An application/problem+json body with this status and type `.../<code>` (and a title and a
    detail), valid against the API's own OpenAPI `Problem` schema, with a status /openapi.json
    documents for the request; returns the body. The one check of a problem body in the suite:
    `response` is the app layer's (Flask's test client) or a real API's (`requests`)."""
    answer = _Answer.of(response)
    assert answer.status == status, answer.text()
    assert answer.mimetype == "application/problem+json", (answer.mimetype, answer.text())
    body = answer.json()
    assert body["status"] == status and body["type"].endswith("/" + code), body
    assert body["title"] and body["detail"], body
    conforms(body, "Problem")
    documented(answer)
    return body


@dataclass(frozen=True)
class _Answer:
    """What problem() reads of a response, from Flask's test client or from `requests`."""

    status: int
    mimetype: str
    method: str
    path: str
    text: Callable[[], str]
    json: Callable[[], dict]

    @classmethod
    def of(cls, response) -> _Answer:
        if isinstance(response, requests.Response):
            return cls(response.status_code, response.headers.get("Content-Type", "").split(";")[0].strip(),
                       response.request.method, urlsplit(response.request.url).path, lambda: response.text, response.json)
        return cls(response.status_code, response.mimetype, response.request.method, response.request.path,
                   lambda: response.get_data(as_text=True), response.get_json)


def documented(answer: _Answer) -> None:
    """The status is one that /openapi.json documents for the request's path and method."""
    for template, operations in SPEC["paths"].items():
        if re.fullmatch(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)), answer.path):
            responses = operations[answer.method.lower()]["responses"]
            assert str(answer.status) in responses, (answer.method, template, answer.status, sorted(responses))
            return
    raise AssertionError(f"{answer.path} is not in /openapi.json")


def conforms(body: dict, schema: str) -> None:
    """`body` is valid against `#/components/schemas/<schema>` of /openapi.json."""
    validator = Draft202012Validator({"$ref": f"#/components/schemas/{schema}", "components": SPEC["components"]})
    errors = [e.message for e in validator.iter_errors(json.loads(json.dumps(body)))]
    assert not errors, (schema, errors, body)


def upload(client, path: Path, query: str = "", **kwargs):
    """POST /v1/videos with `path` as the multipart `video` field."""
    with open(path, "rb") as fh:
        return client.post(f"/v1/videos{query}", data={"video": (fh, path.name)}, content_type="multipart/form-data", **kwargs)
