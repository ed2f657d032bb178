"""The API's Prometheus endpoint after a real job: request counter and latency histogram of
POST /v1/videos, queue depths read from the broker, finished-job counts from Redis.

The API runs under gunicorn with two workers; multiprocess mode (app/gunicorn_conf.py) makes
/metrics add them up, so the counts below hold whichever worker served each request."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from brigade import heartbeats
from brigade.redis_client import redis_client
from devtools import procs
from tests.stack import PREDICT, submit, wait_job
from worker import queues

VIDEOS = {"method": "POST", "endpoint": "/v1/videos", "status": "202"}


def scrape(api: str) -> dict[tuple[str, frozenset], float]:
    response = requests.get(f"{api}/metrics", timeout=10)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_after_a_real_job(api, workers, clips):
    before = scrape(api)
    worker = workers.one(PREDICT)
    path, _ = clips.clip("metrics-job", seed=21, duration_s=3.0, width=160, height=120)
    response = submit(api, path)
    assert response.status_code == 202, response.text
    body = wait_job(api, response.json()["job_id"])
    assert body["status"] == "succeeded", body
    after = scrape(api)
    workers.stop(worker)

    # Requests: counted by endpoint rule and status, with a latency histogram beside.
    assert value(after, "brigade_http_requests_total", **VIDEOS) == value(before, "brigade_http_requests_total", **VIDEOS) + 1
    count = value(after, "brigade_http_request_duration_seconds_count", **VIDEOS)
    assert count == value(after, "brigade_http_requests_total", **VIDEOS)
    assert value(after, "brigade_http_request_duration_seconds_bucket", le="+Inf", **VIDEOS) == count
    assert value(after, "brigade_http_request_duration_seconds_sum", **VIDEOS) > 0
    polls = [labels for (name, labels) in after if name == "brigade_http_requests_total"
             and dict(labels)["endpoint"] == "/v1/jobs/<job_id>"]
    assert polls, "GET /v1/jobs/<id> is counted under its rule, not under each job id"

    # Broker: up, and a depth gauge for every queue.
    assert value(after, "brigade_broker_up") == 1
    for name in queues.ALL:
        assert (("brigade_queue_depth", frozenset({("queue", name)}))) in after, name

    # Jobs: the succeeded count went up with this job.
    assert value(after, "brigade_jobs_finished_total", status="succeeded") >= \
        value(before, "brigade_jobs_finished_total", status="succeeded") + 1


def test_queue_depth_counts_waiting_messages_on_priority_lists_too(api, stack):
    """With no predict replica alive, a message sent with priority 9 waits on `predict\\x06\\x169`;
    the gauge adds that list to `predict`."""
    from worker.celery_app import app as celery

    procs.wait_until(lambda: not heartbeats.list_replicas(queues.PREDICT), 15, what="no predict replica left")
    client = redis_client(celery.conf.broker_url)
    priority_list = f"{queues.PREDICT}\x06\x169"
    depth_before = value(scrape(api), "brigade_queue_depth", queue=queues.PREDICT)
    celery.send_task("tasks.ops.noop", queue=queues.PREDICT, priority=9)
    try:
        assert client.llen(priority_list) == 1, "kombu no longer names priority lists <queue>\\x06\\x16<n>"
        assert value(scrape(api), "brigade_queue_depth", queue=queues.PREDICT) == depth_before + 1
    finally:
        client.delete(priority_list)
