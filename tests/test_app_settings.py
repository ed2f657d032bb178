"""The API reads its settings from one place, the app serving the request (`app.context.settings()`),
so `make_app(**overrides)` reaches every setting a view reads. Inside a request only brigade/ (job
records, the Redis client, upload storage: what the API shares with the workers) may read the
process-wide `get_settings()`."""

from __future__ import annotations

import sys

import pytest
from flask import has_request_context

import brigade.settings
from tests import media_samples as samples
from tests.appkit import upload
from tests.stack import hotel_stay

pytestmark = pytest.mark.app

#: The packages whose code serves a request and must read the app's settings.
API_SIDE = ("app", "media", "models", "tasks", "worker")


@pytest.fixture
def readers(monkeypatch) -> list[str]:
    """The modules outside brigade/ that call `get_settings()` inside a request, as they do."""
    original, found = brigade.settings.get_settings, []

    def watched():
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if has_request_context() and caller.split(".")[0] in API_SIDE:
            found.append(caller)
        return original()

    watched.cache_clear = original.cache_clear
    monkeypatch.setattr(brigade.settings, "get_settings", watched)  # a lazy `from brigade.settings import`
    for name, module in list(sys.modules.items()):  # a name bound at import
        if name.split(".")[0] in API_SIDE and getattr(module, "get_settings", None) is original:
            monkeypatch.setattr(module, "get_settings", watched)
    return found


def test_no_request_reads_the_process_wide_settings_outside_brigade(make_app, recorder, readers, tmp_path):
    client = make_app(HOTEL_SYNC_WAIT_S="0").test_client()
    clip = samples.lavfi_video(tmp_path / "clip.mp4", size="64x48", rate=5, duration=2.0)
    answers = [upload(client, clip), upload(client, clip, "?mode=sharded&features=labels,faces"),
               client.post("/v1/hotel-prices", json=hotel_stay()), client.post("/v1/echo", json={"payload": "x"}),
               *(client.get(path) for path in ("/healthz", "/readyz", "/openapi.json", "/", "/metrics",
                                               "/v1/hotel-destinations", "/v1/webhook-secret"))]
    job_id = answers[0].get_json()["job_id"]
    answers.append(client.get(f"/v1/jobs/{job_id}"))
    assert [a.status_code for a in answers if a.status_code >= 500 and a.status_code != 503] == []
    assert len(recorder.sent) == 4  # two videos, a hotel request and an echo reached the broker
    assert readers == []
