"""`make run`'s launcher end to end: the stack comes up under honcho with an embedded Redis that
demands its password, serves a video, prints its URLs, its local API keys (kept in var/, mode 0600)
and lines that use them, keeps every secret out of the command lines and var/Procfile, and Ctrl-C
leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
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


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def command_lines(roots: list[int]) -> dict[int, str]:
    """pid -> command line (NULs as spaces) of `roots` and every process descended from them."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = _parent(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += [child for child, parent in parents.items() if parent == pid]
    lines = {}
    for pid in found:
        try:
            lines[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return lines


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
        for name in ("api-keys", "webhook-signing-secret", "redis-password", "redis.conf", "Procfile"):
            assert stat.S_IMODE((ROOT / "var" / name).stat().st_mode) == 0o600, name  # secrets made on first run
        _check_secrets_stay_private(text, redis_port, flower_port, marker)
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
        _a_dead_worker_is_restarted_and_the_stack_stays(api, marker, premium)
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


def _a_dead_worker_is_restarted_and_the_stack_stays(api: str, marker: str, key: str) -> None:
    """SIGKILL the predict worker's main process (as the OOM killer would): honcho keeps running the
    others, devtools.keep_running starts the worker again, and a job goes through afterwards."""
    lines = command_lines(_processes_with(marker))
    worker = [pid for pid, line in lines.items() if "celery" in line and "predict1@" in line and "keep_running" not in line]
    main = next(pid for pid in worker if _parent(pid) not in worker)  # the worker's main process, not a pool child
    os.kill(main, signal.SIGKILL)
    procs.wait_until(lambda: main not in _processes_with(marker), 30, what="the killed worker gone")

    def _replaced():
        now = command_lines(_processes_with(marker))
        return any("celery" in line and "predict1@" in line and pid != main and "keep_running" not in line for pid, line in now.items())

    procs.wait_until(_replaced, 60, interval=0.5, what="predict1 restarted")
    assert requests.get(f"{api}/healthz", timeout=30).status_code == 200  # the rest of the stack never went away
    procs.wait_until(lambda: _ready(api), 180, interval=0.5, what="a ready predict replica again")
    echo = requests.post(f"{api}/v1/echo", params={"wait": 30}, json={"payload": "after"}, headers={"X-API-Key": key}, timeout=60)
    assert echo.json()["result"]["echo"] == "after"


def _check_secrets_stay_private(banner: str, redis_port: int, flower_port: int, marker: str) -> None:
    """The embedded Redis demands its password (var/redis-password); neither it nor Flower's is in
    var/Procfile or in any command line of the stack; Flower still demands its basic auth."""
    redis_password = (ROOT / "var" / "redis-password").read_text().strip()
    match = re.search(r"Flower .* user '([^']+)', password '([^']+)'", banner)
    assert match, banner
    flower_auth = (match.group(1), match.group(2))
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=redis_port, socket_timeout=10).ping()
    assert redis.Redis(port=redis_port, password=redis_password, socket_timeout=10).ping()
    assert redis_password not in banner
    procfile = (ROOT / "var" / "Procfile").read_text()
    lines = command_lines(_processes_with(marker))
    assert any("redis-server" in line for line in lines.values()) and any("flower" in line for line in lines.values())
    for secret in (redis_password, flower_auth[1]):
        assert secret not in procfile, "a secret in var/Procfile"
        leaked = [line for line in lines.values() if secret in line]
        assert not leaked, f"a secret in a command line: {leaked}"
    flower = f"http://127.0.0.1:{flower_port}/api/workers"
    procs.wait_until(lambda: _answers(flower), 60, interval=0.5, what="Flower")
    assert requests.get(flower, timeout=10).status_code == 401
    assert requests.get(flower, auth=(flower_auth[0], flower_auth[1] + "x"), timeout=10).status_code == 401
    assert requests.get(flower, auth=flower_auth, timeout=30).status_code == 200


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=5)
        return True
    except requests.RequestException:
        return False


def _banner_key(text: str, tier: str) -> str:
    match = re.search(rf"^\s+(?:API keys\s+)?{tier}\s+([0-9a-f]{{40}})$", text, flags=re.M)
    assert match, f"no {tier} key in the banner:\n{text}"
    return match.group(1)


def _ready(api: str) -> bool:
    try:
        return requests.get(f"{api}/readyz", timeout=5).status_code == 200
    except requests.RequestException:  # not listening yet, or still starting up
        return False
