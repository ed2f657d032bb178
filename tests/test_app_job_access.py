"""Who may read a job (the app layer): one submitted with an API key is read only with that key,
and answers anyone else as an unknown job would (no oracle); an anonymous job's id is its
capability. Its owner is kept in the record, never rendered."""

from __future__ import annotations

from brigade import jobs
from tests.appkit import problem

OWNER, OTHER = "test-premium-1", "test-authenticated-1"


def _echo(client, key: str | None = None) -> str:
    headers = {"X-API-Key": key} if key else {}
    response = client.post("/v1/echo", json={"payload": 1}, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.get_json()["job_id"]


def test_a_job_submitted_with_a_key_is_read_only_with_that_key(client):
    job_id = _echo(client, OWNER)
    mine = client.get(f"/v1/jobs/{job_id}", headers={"X-API-Key": OWNER})
    assert mine.status_code == 200 and mine.get_json()["job_id"] == job_id and "owner" not in mine.get_json()
    unknown = problem(client.get(f"/v1/jobs/{'0' * 32}", headers={"X-API-Key": OTHER}), 404, "job-not-found")
    for headers in ({"X-API-Key": OTHER}, {}):
        theirs = problem(client.get(f"/v1/jobs/{job_id}", headers=headers), 404, "job-not-found")
        assert theirs["detail"] == unknown["detail"].replace("0" * 32, job_id)  # the same answer as no job at all
        assert client.get(f"/v1/jobs/{job_id}?wait=5", headers=headers).status_code == 404  # nor a wait on it
    assert jobs.get_job(job_id)["owner"].startswith("key:")


def test_an_anonymous_job_is_read_by_whoever_has_its_id(client):
    job_id = _echo(client)
    assert "owner" not in jobs.get_job(job_id)
    for headers in ({}, {"X-API-Key": OWNER}):
        assert client.get(f"/v1/jobs/{job_id}", headers=headers).status_code == 200
