"""GET /v1/jobs/<id> and POST /v1/echo in this process (the app layer, tests/appkit.py): a job is
rendered from its record, `?wait=` is checked and capped by the app's MAX_WAIT_S, echo sends its
task and answers 200 once the job has ended within the wait, else 202."""

from __future__ import annotations

import pytest

from app.errors import RETRY_AFTER_S
from brigade import jobs
from tests.appkit import conforms, problem

ECHO = "tasks.ops.echo"


def test_a_job_is_rendered_from_its_record(client):
    job_id = jobs.create_job("video-tags", "single")
    queued = client.get(f"/v1/jobs/{job_id}")
    assert queued.status_code == 200
    body = queued.get_json()
    conforms(body, "Job")
    assert (body["job_id"], body["status"], body["kind"], body["mode"]) == (job_id, "queued", "video-tags", "single")
    assert body["progress"]["percent"] == 0.0 and body["status_url"] == f"/v1/jobs/{job_id}"
    assert "result" not in body and "error" not in body

    jobs.set_progress(job_id, 1, 4, "windows")
    assert client.get(f"/v1/jobs/{job_id}").get_json()["progress"]["percent"] == 25.0
    jobs.succeed(job_id, {"tags": [{"label": "park", "score": 0.9}]}, timings={"infer_s": 0.5}, model={"name": "m", "version": "1"})
    done = client.get(f"/v1/jobs/{job_id}").get_json()
    conforms(done, "Job")
    assert done["status"] == "succeeded" and done["progress"]["percent"] == 100.0
    assert done["result"] == {"tags": [{"label": "park", "score": 0.9}], "model": {"name": "m", "version": "1"},
                              "timings": {"infer_s": 0.5}}


def test_a_failed_job_shows_its_error(client):
    job_id = jobs.create_job("video-tags", "single")
    jobs.fail(job_id, {"type": "undecodable", "detail": "bad frame"})
    body = client.get(f"/v1/jobs/{job_id}").get_json()
    assert body["status"] == "failed" and body["error"] == {"type": "undecodable", "detail": "bad frame"}


@pytest.mark.parametrize("job_id", ["0" * 32, "not-a-job", "A" * 32, "0" * 33])
def test_an_unknown_or_malformed_job_id_is_a_404(client, job_id):
    assert job_id in problem(client.get(f"/v1/jobs/{job_id}"), 404, "job-not-found")["detail"]


@pytest.mark.parametrize("wait", ["soon", "-1", "", "nan", "-inf"])
def test_wait_must_be_a_number_of_seconds_not_below_zero(client, wait):
    job_id = jobs.create_job("echo", "single")
    problem(client.get(f"/v1/jobs/{job_id}?wait={wait}"), 400, "invalid-parameter")


@pytest.mark.parametrize("asked, max_wait_s, waited", [("60", "0.5", 0.5), ("0.25", "0.5", 0.25), ("0", "60", 0.0)])
def test_wait_is_capped_by_the_apps_max_wait(make_app, monkeypatch, asked, max_wait_s, waited):
    job_id = jobs.create_job("echo", "single")
    asked_for = []
    real = jobs.subscribe_until_terminal
    monkeypatch.setattr(jobs, "subscribe_until_terminal", lambda jid, timeout_s, **kw: asked_for.append(timeout_s) or real(jid, 0, **kw))
    response = make_app(MAX_WAIT_S=max_wait_s).test_client().get(f"/v1/jobs/{job_id}?wait={asked}")
    assert response.status_code == 200 and response.get_json()["status"] == "queued"
    assert asked_for == ([waited] if waited else [])  # no wait asked: the record is read, nothing is held


def test_echo_sends_its_task_and_answers_202_while_the_job_waits(client, recorder):
    response = client.post("/v1/echo", json={"payload": {"n": [1, 2]}})
    assert response.status_code == 202
    body = response.get_json()
    conforms(body, "Job")
    assert body["status"] == "queued" and body["kind"] == "echo"
    sent = recorder.only()
    assert sent.name == ECHO and sent.task_id == body["job_id"]
    assert sent.kwargs == {"job_id": body["job_id"], "payload": {"n": [1, 2]}}


def test_echo_answers_200_when_the_job_ends_within_the_wait(client, recorder):
    recorder.on_send = lambda sent: jobs.succeed(sent.task_id, {"echo": sent.kwargs["payload"]})  # a worker, at once
    response = client.post("/v1/echo?wait=30", json={"payload": "hello"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "succeeded" and body["result"]["echo"] == "hello"


def test_echo_without_a_broker_is_a_503_and_its_job_fails(client, recorder):
    recorder.down = True
    response = client.post("/v1/echo", json={"payload": 1})
    problem(response, 503, "broker-unavailable")
    assert response.headers["Retry-After"] == str(RETRY_AFTER_S)  # when to come back, not the rate window's reset
    assert jobs.get_job(recorder.refused[0].task_id)["status"] == "failed"


def test_a_wait_finding_every_held_slot_taken_is_answered_at_once(make_app, monkeypatch):
    """Each API process holds at most MAX_HELD_WAITS waiting requests; one more is answered with
    the record as it is, not held (so waiting clients cannot take every thread)."""
    from app import waits

    job_id = jobs.create_job("echo", "single")
    asked_for = []
    monkeypatch.setattr(jobs, "subscribe_until_terminal", lambda jid, timeout_s, **kw: asked_for.append(timeout_s) or jobs.get_job(jid))
    client = make_app(MAX_HELD_WAITS="1").test_client()
    slot = waits._semaphore(1)
    assert slot.acquire(blocking=False)  # another request holds the only slot
    try:
        response = client.get(f"/v1/jobs/{job_id}?wait=30")
        assert response.status_code == 200 and response.get_json()["status"] == "queued"
        assert asked_for == []
    finally:
        slot.release()
    assert client.get(f"/v1/jobs/{job_id}?wait=30").status_code == 200
    assert asked_for == [30.0]  # a free slot: held as asked
