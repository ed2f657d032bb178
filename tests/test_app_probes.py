"""Probes and the contract, in this process (the app layer, tests/appkit.py): /healthz needs
nothing, /readyz follows the broker and the replicas' heartbeats, /openapi.json describes exactly
the routes the app serves; and the app serves with the settings and the Celery it was given."""

from __future__ import annotations

import os
import re

import pytest
from jsonschema import Draft202012Validator

from app import context, create_app
from brigade import heartbeats
from tests.appkit import Recorder, settings_with


def test_healthz_is_liveness_only_even_without_a_broker(client, recorder):
    recorder.down = True
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


@pytest.fixture
def ready_replica():
    """A heartbeat as a ready predict replica writes it; removed afterwards."""
    process = f"app-probe@test:{os.getpid()}"
    heartbeats.publish(process, {"hostname": "app-probe@test", "pid": os.getpid(), "process": process, "queues": ["predict"],
                                 "model": "synth-tagger@1.0.0", "device": "cpu", "ready": True})
    yield "app-probe@test"
    heartbeats.remove(process)


def test_readyz_needs_the_broker_and_a_ready_replica(client, recorder, ready_replica):
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "ready" and body["broker"] == "ok"
    listed = [r for r in body["replicas"] if r["hostname"] == ready_replica]
    assert listed == [{"hostname": ready_replica, "process": listed[0]["process"], "queues": ["predict"],
                       "model": "synth-tagger@1.0.0", "device": "cpu", "ready": True, "error": None}]
    assert body["ready_replicas"] >= 1

    recorder.down = True
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable" and response.get_json()["broker"] == "unreachable"

    recorder.down = False
    heartbeats.remove(listed[0]["process"])
    assert all(r["hostname"] != ready_replica for r in client.get("/readyz").get_json()["replicas"])


def test_the_openapi_document_describes_exactly_the_routes_served(make_app):
    app = make_app()
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.1")
    served = {(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
              for rule in app.url_map.iter_rules() if rule.endpoint not in ("static", "openapi.openapi", "metrics")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, operations in spec["paths"].items() for method in operations}
    assert described == served
    for schema in spec["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # each is a valid JSON Schema ...
    refs = set(re.findall(r'"\$ref":\s*"#/components/schemas/(\w+)"', response.get_data(as_text=True)))
    assert refs and refs <= set(spec["components"]["schemas"])  # ... and every reference resolves


def test_the_app_carries_the_settings_and_the_celery_it_was_given(redis_server):
    settings, recorder = settings_with(MAX_WAIT_S="7"), Recorder()
    app = create_app(settings, celery=recorder)
    assert context.settings(app) is settings and context.celery(app) is recorder
    with app.test_request_context("/"):
        assert context.settings() is settings and context.celery() is recorder
    with pytest.raises(RuntimeError):
        context.settings()  # outside a request there is no current app


# --- the operator's endpoints ------------------------------------------------------------------------

WORLD = {"REMOTE_ADDR": "203.0.113.9"}  # a documentation address: not loopback


def test_metrics_and_readiness_details_are_the_operators_only(make_app, ready_replica):
    """Without OPERATOR_TOKEN only the host itself is the operator; with one, only its bearer."""
    local = make_app().test_client()
    assert local.get("/metrics").status_code == 200
    world = make_app().test_client()
    world.environ_base.update(WORLD)
    assert world.get("/metrics").status_code == 403
    assert world.get("/readyz").get_json() == {"status": "ready"}  # no hosts, pids or error text

    locked = make_app(OPERATOR_TOKEN="s3cret-token").test_client()
    locked.environ_base.update(WORLD)
    assert locked.get("/metrics").status_code == 403
    assert locked.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert locked.get("/metrics", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    detailed = locked.get("/readyz", headers={"X-Operator-Token": "s3cret-token"}).get_json()
    assert any(r["hostname"] == ready_replica for r in detailed["replicas"])
    loopback_with_a_token_set = make_app(OPERATOR_TOKEN="s3cret-token").test_client()
    assert loopback_with_a_token_set.get("/metrics").status_code == 403  # the token, once set, is the only way


def test_invented_http_methods_do_not_become_metric_series(client):
    for method in ("BREW", "XYZZY", "PROPFIND"):
        assert client.open("/v1/echo", method=method).status_code in (400, 405)
    scraped = client.get("/metrics").get_data(as_text=True)
    assert "BREW" not in scraped and "XYZZY" not in scraped and "PROPFIND" not in scraped
    assert re.search(r'brigade_http_requests_total\{[^}]*method="OTHER"', scraped)
