"""What `make compose-check` does to the running stack, each step returning the lines it prints:
a hotel request and the destinations (read from the models volume), a short video on a predict
replica, people, faces and text on clips made for them, a long one sharded over the segments pool whose worker is killed in the middle of a
segment (after both liveness checks were asked while it worked), and Redis's stop.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import date, timedelta
from pathlib import Path

from devtools import procs
from devtools.compose_check.stack import Stack
from devtools.localstack import wait_for_job

SHARD_SERVICE = "worker-gpu-cpu"
CONTROL_SERVICE = "worker-control"
SEGMENT_TASK = "tasks.sharded.tag_segment"
JOB_TIMEOUT_S = 1800
SLOW_CPUS = "0.1"


def hotel(stack: Stack) -> list[str]:
    destinations = stack.get("/v1/hotel-destinations")
    slugs = [d["slug"] for d in destinations.json()["destinations"]] if destinations.ok else []
    check_in = date.today() + timedelta(days=30)
    answer = stack.post_hotel({"destination": slugs[0] if slugs else "paris", "check_in": check_in.isoformat(),
                               "check_out": (check_in + timedelta(days=3)).isoformat(), "guests": 2})
    body = answer.json()
    if answer.status_code == 202:  # past HOTEL_SYNC_WAIT_S: the job finishes later
        body = wait_for_job(stack.api, body["job_id"], 120, api_key=stack.key)
    return [f"GET /v1/hotel-destinations: {destinations.status_code}, {len(slugs)} destinations",
            f"POST /v1/hotel-prices: {answer.status_code}, status {body.get('status')}, "
            f"keys {sorted(k for k in body if k not in ('job_id', 'status_url'))}"]


def short_video(stack: Stack, clip: Path) -> list[str]:
    posted = stack.post_video(clip, "single")
    job = wait_for_job(stack.api, posted.json()["job_id"], JOB_TIMEOUT_S, api_key=stack.key)
    model = (job.get("result") or {}).get("model", {})
    return [f"POST /v1/videos?mode=single: {posted.status_code}; job {job['status']} on {job.get('worker')}, "
            f"tags {_labels(job)}; {model.get('name')}@{model.get('version')} on {model.get('runtime')} ({model.get('device')})"]


def features(stack: Stack, people_clip: Path, text_clip: Path) -> list[str]:
    """People and faces on a clip of photographs with people in them, text on a clip of title
    cards (`models.build.eval_media`): every frame model answers from the image, on one decode."""
    lines, found = [], {}
    for clip, wanted in ((people_clip, "people,faces"), (text_clip, "text")):
        posted = stack.post_video(clip, "single", features=wanted)
        job = wait_for_job(stack.api, posted.json()["job_id"], JOB_TIMEOUT_S, api_key=stack.key)
        result = job.get("result") or {}
        found.update({name: result.get(name) for name in wanted.split(",")})
        models = {feature: f"{m.get('name')}@{m.get('version')} ({m.get('runtime')})"
                  for feature, m in result.get("model", {}).get("frame_models", {}).items()}
        lines.append(f"POST /v1/videos?features={wanted}: {posted.status_code}; job {job['status']}; models {models}")
    people, faces, text = found["people"] or {}, found["faces"] or {}, found["text"] or []
    lines.append(f"people: at most {people.get('max_count')} at once; faces: at most {faces.get('max_count')}; "
                 f"text: {'; '.join(entry['text'] for entry in text[:4])}")
    if not (people.get("max_count") and faces.get("max_count") and text):
        raise AssertionError(f"a frame model found nothing: people {people}, faces {faces}, text {text}")
    return lines


def sharded_video_with_a_killed_worker(stack: Stack, clip: Path) -> list[str]:
    """The shard worker (solo pool) is asked both ways while it tags a segment, then SIGKILLed
    from the host (a crash, not a stop: its restart policy brings it back); the job must still
    succeed, its segment redelivered."""
    (container,) = stack.containers(SHARD_SERVICE)
    name = container["Name"]
    # A segment takes seconds on a free core; a tenth of one makes it last long enough to be asked
    # (a ping waits 10 s for its answer) and killed in the middle. Lifted just before the kill.
    stack.engine.docker("update", "--cpus", SLOW_CPUS, name, quiet=True)
    posted = stack.post_video(clip, "sharded")
    job_id = posted.json()["job_id"]
    lines = [f"POST /v1/videos?mode=sharded: {posted.status_code}, job {job_id}; {SHARD_SERVICE} held to {SLOW_CPUS} CPU"]
    segment = procs.wait_until(lambda: _segment_running(stack), JOB_TIMEOUT_S, 1, what="a segment running on the shard worker")
    lines.append(f"segment running on {segment['process']}")
    lines += _probes_while_busy(stack, name, segment["hostname"])
    still = _segment_running(stack)
    pid = stack.inspect(name)["State"]["Pid"]
    stack.engine.docker("update", "--cpus", "0", name, quiet=True)  # no limit once it comes back
    os.kill(pid, signal.SIGKILL)
    lines.append(f"SIGKILL to {SHARD_SERVICE}'s main process (pid {pid} on the host) "
                 + ("mid-segment" if still else "between segments (the segment had ended)"))
    began = time.monotonic()
    job = wait_for_job(stack.api, job_id, JOB_TIMEOUT_S, api_key=stack.key)
    state = stack.inspect(container["Name"])
    reaped = [line.split("|", 1)[-1].strip() for line in stack.logs().splitlines() if "died holding" in line]
    lines += [f"job {job['status']} {time.monotonic() - began:.0f} s after the kill; progress {job['progress']}; "
              f"tags {_labels(job)}",
              f"{SHARD_SERVICE}: restarted {state['RestartCount']} time(s), now {state['State']['Status']}",
              *[f"reaper: {line}" for line in reaped[:3]]]
    if job["status"] != "succeeded":
        raise AssertionError(f"the sharded job did not survive the kill: {job}")
    return lines


def _segment_running(stack: Stack) -> dict | None:
    for task in stack.running_tasks():
        if task.get("task") == SEGMENT_TASK and task.get("process") and task["hostname"].startswith("gpu@"):
            return task
    return None


def _probes_while_busy(stack: Stack, container: str, worker: str) -> list[str]:
    """The old check (a ping through the broker) and the new one (the host heartbeat) of the busy
    worker, asked from the control worker's container (not to slow the held-back one further),
    and the health Docker has from the shard container's own check."""
    ask = ("exec", "-T", CONTROL_SERVICE)
    alive = stack.compose(*ask, "python", "-m", "worker.alive", worker, quiet=True, check=False)
    ping = stack.compose(*ask, "celery", "-A", "worker.celery_app", "inspect", "ping", "-d", worker, "--timeout", "10",
                         quiet=True, check=False)
    health = stack.inspect(container)["State"].get("Health", {})
    last = (health.get("Log") or [{}])[-1]
    return [f"while busy: `python -m worker.alive {worker}` rc {alive.returncode} ({_last_line(alive.stdout)})",
            f"while busy: `celery inspect ping -d {worker}` rc {ping.returncode} ({_last_line(ping.stdout + ping.stderr)})",
            f"while busy: Docker health {health.get('Status')} (its last check: rc {last.get('ExitCode')}, "
            f"{_last_line(last.get('Output', ''))})"]


def stop_redis(stack: Stack) -> list[str]:
    """Redis must be PID 1 and stop on SIGTERM: a clean shutdown (exit 0), well within the 10 s
    after which Docker kills it (exit 137)."""
    (container,) = stack.containers("redis")
    main = Path(f"/proc/{stack.inspect(container['Name'])['State']['Pid']}/cmdline").read_bytes().replace(b"\0", b" ")
    began = time.monotonic()
    stack.compose("stop", "--timeout", "10", "redis", quiet=True)
    took = time.monotonic() - began
    state = stack.inspect(container["Name"])["State"]
    said = [line for line in stack.logs("redis").splitlines() if "ready to exit" in line or "SIGTERM" in line]
    return [f"the container's main process (PID 1): {main.decode().strip()}",
            f"`compose stop redis`: {took:.1f} s, exit code {state['ExitCode']}",
            *[line.split("|", 1)[-1].strip() for line in said[-2:]]]


def _labels(job: dict) -> list[str]:
    return sorted({t["label"] for t in (job.get("result") or {}).get("tags", [])})


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else "no output"
