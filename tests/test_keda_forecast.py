"""deploy/k8s/forecast/: the opt-in kustomize component with which KEDA also scales the events pool
on the API's exported forecast (a Prometheus trigger beside the queue-length one), checked offline
as the other manifests are (tests/test_deploy_files.py: kustomize renders it, the KEDA CRD schema
and Kubernetes' schemas validate what it renders), over deploy/k8s and deploy/k8s-sentinel alike.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from brigade.settings import describe
from tests.test_deploy_files import K8S, K8S_SENTINEL, KEDA_SCHEMA, _strict, kustomize_build
from worker import queues

pytestmark = pytest.mark.unit

COMPONENT = K8S / "forecast"
SCALED = "worker-events"
#: `max(<metric>{queue="<queue>"})`: every API pod exports the same value, read from Redis.
QUERY = re.compile(r'^max\(([a-z_:]+)\{queue="([a-z0-9_.]+)"\}\)$')


def _render(base: Path, folder: Path) -> dict[str, dict[str, dict]]:
    """What `kubectl apply -k` applies for a kustomization over `base` with the component, by kind
    and name. kustomize wants relative paths."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(yaml.safe_dump({
        "resources": [os.path.relpath(base, folder)], "components": [os.path.relpath(COMPONENT, folder)]}))
    return _by_kind(kustomize_build(folder))


def _by_kind(docs) -> dict[str, dict[str, dict]]:
    found: dict[str, dict[str, dict]] = {}
    for doc in docs:
        found.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    return found


@pytest.fixture(scope="module", params=[K8S, K8S_SENTINEL], ids=["k8s", "k8s-sentinel"])
def rendered(request, tmp_path_factory) -> tuple[dict, dict]:
    """(the base alone, the base with the component), each rendered by kustomize."""
    base = request.param
    return _by_kind(kustomize_build(base)), _render(base, tmp_path_factory.mktemp(base.name))


def test_the_component_renders_objects_that_follow_their_schemas(rendered):
    import kubernetes_validate

    _, objects = rendered
    version = kubernetes_validate.latest_version()
    keda = _strict(json.loads(KEDA_SCHEMA.read_text()))
    for docs in objects.values():
        for doc in docs.values():
            if doc["apiVersion"].startswith("keda.sh/"):
                jsonschema.validate(doc, keda)
            else:
                kubernetes_validate.validate(doc, version, strict=True)
    # The schema rejects a broken trigger: KEDA's trigger metadata are strings.
    broken = copy.deepcopy(objects["ScaledObject"][SCALED])
    broken["spec"]["triggers"][-1]["metadata"]["threshold"] = 8
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, keda)


def test_the_component_changes_only_the_events_scaling_and_the_predictive_setting(rendered):
    base, objects = rendered
    assert {kind: set(docs) for kind, docs in base.items()} == {kind: set(docs) for kind, docs in objects.items()}
    changed = sorted((kind, name) for kind, docs in objects.items() for name, doc in docs.items() if doc != base[kind][name])
    assert changed == [("ConfigMap", "brigade-settings"), ("ScaledObject", SCALED)]
    settings = objects["ConfigMap"]["brigade-settings"]["data"]
    assert {k: v for k, v in settings.items() if base["ConfigMap"]["brigade-settings"]["data"].get(k) != v} == {
        "AUTOSCALE_PREDICTIVE": "true"}
    assert "AUTOSCALE_PREDICTIVE" in {name for name, _, _ in describe()}


def test_the_events_pool_scales_on_its_queue_and_on_the_forecast(rendered):
    base, objects = rendered
    before, after = base["ScaledObject"][SCALED]["spec"], objects["ScaledObject"][SCALED]["spec"]
    assert [t["type"] for t in before["triggers"]] in (["redis"], ["redis-sentinel"]), "the default files scale on the queue only"
    queue_trigger, forecast = after["triggers"]
    assert queue_trigger == before["triggers"][0], "the queue-length trigger stays as it was"
    assert queue_trigger["metadata"]["listName"] == queues.EVENTS
    assert forecast["type"] == "prometheus" and forecast["name"] == "forecast"
    metric, queue = QUERY.match(forecast["metadata"]["query"]).groups()
    assert queue == queues.EVENTS
    # Pods = ceil(processes / threshold): the threshold is the processes one pod runs at most.
    assert forecast["metadata"]["threshold"] == objects["ConfigMap"]["brigade-settings"]["data"]["EVENTS_MAX"]
    assert forecast["metadata"]["ignoreNullValues"] == "true", "no forecast yet: the queue trigger alone decides"
    assert forecast["metadata"]["serverAddress"].startswith("http")
    # One pod stays to make the forecast; the rest of the scaling is the base's.
    assert after["minReplicaCount"] == 1 and before["minReplicaCount"] == 0
    assert {k: v for k, v in after.items() if k not in ("triggers", "minReplicaCount")} == {
        k: v for k, v in before.items() if k not in ("triggers", "minReplicaCount")}
    assert metric == exported_forecast_metric(queue)


def exported_forecast_metric(queue: str) -> str:
    """The name of the gauge app/metrics.py exports for a queue's forecast processes (found by running
    its collector on a stand-in Redis that holds one forecast, so the trigger names what the API
    really exports, labelled by queue)."""
    from unittest import mock

    from app import metrics

    class OneForecast:
        def mget(self, keys):
            return [json.dumps({"rate": 2.0, "processes": 3, "error": None})] + [None] * (len(keys) - 1)

    with mock.patch.object(metrics, "queue_names", return_value=(queue,)):
        families = list(metrics.forecast_metrics(OneForecast()))
    (family,) = [f for f in families if "processes" in f.name]
    (sample,) = family.samples
    assert sample.labels == {"queue": queue} and sample.value == 3
    return family.name


def test_the_query_reads_the_gauge_the_api_exports():
    metric, queue = QUERY.match(_patch_trigger()["metadata"]["query"]).groups()
    assert metric == exported_forecast_metric(queue) == "brigade_forecast_processes"


def _patch_trigger() -> dict:
    """The trigger as keda-patch.yaml adds it (read without kustomize)."""
    (add,) = [op for op in yaml.safe_load((COMPONENT / "keda-patch.yaml").read_text()) if op["op"] == "add"]
    assert add["path"] == "/spec/triggers/-"
    return add["value"]
