"""The CLI client (`python -m app.client`) as a user runs it, in a subprocess, against the real
stack: a predict replica for `tag`, an events worker for `hotels`. What it prints is checked
against what the API says of the same job."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import requests

from brigade.settings import ROOT
from devtools import procs
from models.build.synth import Scene
from tests.stack import EVENTS, PREDICT, Workers, hotel_stay, submit

JOB_LINE = re.compile(r"^job ([0-9a-f]{32}): (\w+)", re.M)


def brigade(api: str, *args: str, key: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """The CLI in a fresh process, stdout and stderr captured (no terminal: plain progress lines)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIGADE_")}
    env.update({"BRIGADE_API": api, **({"BRIGADE_API_KEY": key} if key else {})})
    return subprocess.run([sys.executable, "-m", "app.client", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def first_column(stdout: str) -> list[str]:
    """The first column of the table after the summary line and a blank line (header and rule skipped)."""
    block = stdout.split("\n\n")[1]
    return [line.split("  ")[0] for line in block.splitlines()[2:]]


@pytest.fixture(scope="module")
def replica(stack):
    with Workers(stack) as ws:  # stopped after the module: other modules count their own replicas
        yield ws.one(PREDICT)


@pytest.fixture(scope="module")
def events_worker(stack):
    with Workers(stack) as ws:  # stopped after the module: test_events_pool measures queue depth with no other consumer
        yield ws.one(EVENTS)


@pytest.fixture(scope="module")
def park_clip(clips):
    scene = Scene(setting="park", lighting="day", objects=("ball", "person"), moving=True, duration_s=4.0, look=1)
    return clips.clip("cli-park-ball-person", seed=21, scenes=[scene])


def test_tag_prints_the_tags_of_the_job(api, replica, park_clip):
    path, truth = park_clip
    done = brigade(api, "tag", str(path))
    assert done.returncode == 0, done.stderr
    job_id, status = JOB_LINE.search(done.stdout).groups()
    assert status == "succeeded"
    body = requests.get(f"{api}/v1/jobs/{job_id}", timeout=30).json()
    assert first_column(done.stdout) == [t["label"] for t in body["result"]["tags"]]
    assert set(first_column(done.stdout)) == set(truth.tags)
    model = body["result"]["model"]
    assert f"model {model['name']}@{model['version']}" in done.stdout
    # progress went to stderr, as plain lines (no terminal): the upload's, then the job's
    assert "upload cli-park-ball-person.mp4" in done.stderr and "100%" in done.stderr
    assert f"job {job_id[:8]}" in done.stderr and "\r" not in done.stderr


def test_tag_json_is_the_job_body(api, replica, park_clip):
    done = brigade(api, "tag", str(park_clip[0]), "--json", "--mode", "single", "--fast")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["status"] == "succeeded" and body["mode"] == "single"
    assert body == requests.get(f"{api}/v1/jobs/{body['job_id']}", timeout=30).json()


def test_tag_no_wait_then_job_wait(api, replica, park_clip):
    path, _ = park_clip
    queued = brigade(api, "tag", str(path), "--no-wait", "--json")
    assert queued.returncode == 0, queued.stderr
    job_id = json.loads(queued.stdout)["job_id"]
    shown = brigade(api, "job", job_id, "--wait")
    assert shown.returncode == 0, shown.stderr
    assert JOB_LINE.search(shown.stdout).groups() == (job_id, "succeeded")
    assert first_column(shown.stdout) == [t["label"] for t in requests.get(f"{api}/v1/jobs/{job_id}", timeout=30).json()["result"]["tags"]]


def test_a_text_file_exits_1_with_the_api_detail(api, tmp_path, no_job_created):
    path = tmp_path / "notes.txt"
    path.write_text("not a video\n" * 100)
    expected = submit(api, path).json()  # what the API says of it
    done = brigade(api, "tag", str(path))
    assert done.returncode == 1, done.stderr
    assert f"{expected['status']} {expected['title']}" in done.stderr and expected["detail"] in done.stderr
    assert done.stdout == ""


def test_a_bad_api_key_exits_1_naming_401(api, park_clip, no_job_created):
    done = brigade(api, "tag", str(park_clip[0]), key="no-such-key")
    assert done.returncode == 1
    assert "401 Invalid API key (invalid-api-key)" in done.stderr


def test_an_unknown_job_exits_1_with_404(api):
    done = brigade(api, "job", "0" * 32)
    assert done.returncode == 1 and "404" in done.stderr and "job-not-found" in done.stderr


def test_an_unreachable_api_exits_3():
    done = brigade(f"http://127.0.0.1:{procs.free_port()}", "job", "0" * 32, timeout=60)
    assert done.returncode == 3
    assert "cannot reach the API" in done.stderr and "Connection refused" in done.stderr


def test_hotels_prints_the_api_hotels(api, events_worker):
    stay = hotel_stay(days_ahead=40, nights=2, budget=600)
    args = [stay["destination"], "--check-in", stay["check_in"], "--check-out", stay["check_out"], "--guests", str(stay["guests"]),
            "--budget", "600"]
    as_json = brigade(api, "hotels", *args, "--json", key="test-premium-1")
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    hotels = body["result"]["hotels"]
    assert body["status"] == "succeeded" and hotels
    text = brigade(api, "hotels", *args, key="test-premium-1")
    assert text.returncode == 0, text.stderr
    assert first_column(text.stdout) == [h["name"] for h in hotels]  # same stay, same model: same prices, same order


def test_hotels_refused_exits_1_with_every_error(api):
    done = brigade(api, "hotels", "atlantis", "--check-in", "2001-01-01", "--check-out", "2001-01-02", "--guests", "2")
    assert done.returncode == 1
    assert "422" in done.stderr and "unknown destination 'atlantis'" in done.stderr and "  - check_in:" in done.stderr


def test_an_upload_over_the_limit_exits_1_with_413(api, tmp_path, no_job_created):
    path = tmp_path / "huge.mp4"
    with open(path, "wb") as fh:  # MAX_UPLOAD_BYTES is 8 MiB in the test settings
        fh.truncate(9 * 1024 * 1024)
    done = brigade(api, "tag", str(path))
    assert done.returncode == 1, done.stderr
    assert "413" in done.stderr and "MAX_UPLOAD_BYTES" in done.stderr
