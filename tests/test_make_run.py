"""`make run`'s launcher end to end: the stack comes up under honcho with an embedded Redis, serves a
video, prints its URLs, its local API keys (kept in var/, mode 0600) and lines that use them, and
Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import requests

from brigade.settings import ROOT
from devtools import procs
from tests.stack import hotel_stay, wait_job


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_make_run_serves_a_video_and_ctrl_c_stops_everything(tmp_path):
    marker = f"BRIGADE_RUN_MARKER={uuid.uuid4().hex}"
    api_port, flower_port, redis_port = procs.free_port(), procs.free_port(), procs.free_port()
    # no REDIS_URL: embedded Redis; no TAGGER_MODEL: the default tagger, as a user gets it
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "TAGGER_MODEL")}
    env.update({"API_PORT": str(api_port), "FLOWER_PORT": str(flower_port), "EMBEDDED_REDIS_PORT": str(redis_port),
                "PREDICT_REPLICAS": "1", "SHARD_WORKERS": "1", "EVENTS_MAX": "1",
                marker.split("=")[0]: marker.split("=")[1]})
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        runner = subprocess.Popen([sys.executable, "-m", "devtools.run_stack"], cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{api_port}"
    try:
        procs.wait_until(lambda: _ready(api), 120, interval=0.5, what="make run's API ready")
        text = log.read_text()
        assert f"http://127.0.0.1:{api_port}" in text and f"http://127.0.0.1:{flower_port}" in text
        assert "curl -F video=@" in text
        premium = _banner_key(text, "premium")
        assert f"-m app.client tag var/sample-reel.mp4 --api-key {premium}" in text
        headers = {"X-API-Key": premium}
        for name in ("api-keys", "webhook-signing-secret"):  # generated on first run, reused after
            assert stat.S_IMODE((ROOT / "var" / name).stat().st_mode) == 0o600, name
        # the banner's key is one the API knows, as premium; a forged one is refused
        priced = requests.post(f"{api}/v1/hotel-prices", json=hotel_stay(), headers=headers, timeout=60)
        assert priced.status_code in (200, 202) and priced.json()["tier"] == "premium", priced.text
        assert requests.post(f"{api}/v1/hotel-prices", json=hotel_stay(), headers={"X-API-Key": "forged"},
                             timeout=30).status_code == 401
        assert requests.get(f"{api}/v1/webhook-secret", headers=headers, timeout=30).json()["secret"]
        sample = ROOT / "var" / "sample-reel.mp4"
        with open(sample, "rb") as fh:
            job = requests.post(f"{api}/v1/videos", files={"video": fh}, headers=headers, timeout=30).json()
        body = wait_job(api, job["job_id"], api_key=premium)
        assert body["status"] == "succeeded", body
        # the default (pretrained) tagger sees what is in the sample: a cat, a motorcycle, a coffee
        assert body["result"]["model"]["name"] == "video-tagger"
        assert {"Cat", "Motorcycle", "Drink"} <= {t["label"] for t in body["result"]["tags"]}, body["result"]
        assert len(body["result"]["shots"]) == 3
        assert len(_processes_with(marker)) >= 6  # redis, predict, control, shard, api, flower (+ pool children)
    finally:
        runner.send_signal(signal.SIGINT)  # what Ctrl-C sends to the foreground process
        try:
            runner.wait(60)
        finally:
            leftovers = _processes_with(marker)
            for pid in leftovers:
                os.kill(pid, signal.SIGKILL)
    assert runner.returncode is not None
    assert leftovers == [], f"processes left after Ctrl-C: {leftovers}\n{log.read_text()[-3000:]}"


def _banner_key(text: str, tier: str) -> str:
    match = re.search(rf"^\s+(?:API keys\s+)?{tier}\s+([0-9a-f]{{40}})$", text, flags=re.M)
    assert match, f"no {tier} key in the banner:\n{text}"
    return match.group(1)


def _ready(api: str) -> bool:
    try:
        return requests.get(f"{api}/readyz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or still starting up
        return False
