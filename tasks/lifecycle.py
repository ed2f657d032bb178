"""Worker life cycle: who this process is, its heartbeat and readiness, what it holds, and the
redelivery of a dead replica's work. Chores (the job watchdog, upload retention, heap trimming)
live in tasks/chores.py; tasks/worker.py wires both to Celery's signals.

Each pool process that executes tasks publishes `<prefix>:hb:<hostname>:<pid>` every
HEARTBEAT_INTERVAL_S with a TTL of HEARTBEAT_TTL_S: hostname, queues, model name@version, device,
ready. The API's /readyz reads these keys.

The Redis transport only redelivers an unacked message after the broker's visibility timeout,
which must outlast the longest task (an hour by default). So a replica killed mid-task would leave
its job waiting an hour. Instead every replica also runs a small reaper: a task whose executing
process has no heartbeat any more gets its message restored to the queue at once (kombu's own
`restore_by_tag`, the call the transport itself uses after the visibility timeout).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable

from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads as kombu_loads

from brigade import heartbeats, jobs
from brigade.broker_queues import is_redis_url
from brigade.redis_client import key, redis_client
from brigade.settings import get_settings

log = logging.getLogger(__name__)

_worker: dict = {"hostname": "", "queues": [], "extra_queues": [], "solo": False}
_state: dict = {"model": None, "device": None, "ready": False, "error": None}
_stop = threading.Event()
_host_stop = threading.Event()
_incarnations: dict[int, str] = {}  # pid -> incarnation(): a forked child is a new pid


def process_id() -> str:
    return f"{_worker['hostname'] or os.uname().nodename}:{os.getpid()}"


def incarnation() -> str:
    """A token drawn once per process (a forked pool child draws its own), in its heartbeats and
    in the `running` records it writes. A container restarted by its restart policy, or a pod's
    container restarted after its liveness probe failed, runs the worker again as PID 1 under the
    same hostname: by process_id() it is the process that was killed, and its heartbeat would keep
    that one's tasks looking alive, never redelivered; by incarnation it is not."""
    return _incarnations.setdefault(os.getpid(), secrets.token_hex(4))


def set_extra_queues(names: list[str]) -> None:
    """Queues taken over at run time (a standby serving a dead shard's queue), shown in heartbeats."""
    _worker["extra_queues"] = list(names)


def running_key() -> str:
    return key("running")


def publish_heartbeat() -> None:
    heartbeats.publish(process_id(), {
        "hostname": _worker["hostname"],
        "process": process_id(),
        "pid": os.getpid(),
        "queues": sorted({*_worker["queues"], *_worker["extra_queues"]}),
        "model": _state["model"],
        "device": _state["device"],
        "ready": _state["ready"],
        "error": _state["error"],
        "incarnation": incarnation(),
        "at": time.time(),
    })


def _warm_up() -> None:
    """Load the model this replica serves, once per process, then report ready."""
    try:
        from tasks.warmup import warm_up_for

        info = warm_up_for(_worker["queues"])
        _state.update(model=info.get("model"), device=info.get("device"), ready=True)
    except Exception as exc:  # a replica that cannot load its model stays unready, and says why
        log.exception("model warm-up failed")
        _state.update(ready=False, error=f"{exc.__class__.__name__}: {exc}")
    publish_heartbeat()


def _heartbeat_loop(on_beat: Callable[[], None] | None) -> None:
    s = get_settings()
    while not _stop.wait(s.HEARTBEAT_INTERVAL_S):
        began = time.monotonic()
        try:
            publish_heartbeat()
            if time.monotonic() - began > s.HEARTBEAT_TTL_S / 2:  # Redis stalled: every heartbeat may have lapsed
                _state["settling_until"] = time.monotonic() + 2 * s.HEARTBEAT_TTL_S
            if on_beat is not None:
                on_beat()
        except Exception:  # Redis briefly away: try again next beat
            _state["settling_until"] = time.monotonic() + 2 * s.HEARTBEAT_TTL_S
            log.warning("heartbeat failed", exc_info=True)


def settling() -> bool:
    """Just after a Redis stall or outage every replica's heartbeat may have expired with the
    replica alive: until the others have beaten again, an expired heartbeat proves nothing."""
    return time.monotonic() < _state.get("settling_until", 0.0)


def start_heartbeat(on_beat: Callable[[], None] | None = None) -> None:
    """Heartbeat this process from now on and warm its model up in a thread; `on_beat` runs after
    every beat (the worker entry passes the chores)."""
    _stop.clear()
    publish_heartbeat()  # unready at once, so a task that arrives now is accounted for
    threading.Thread(target=_warm_up, name="brigade-warmup", daemon=True).start()
    threading.Thread(target=_heartbeat_loop, args=(on_beat,), name="brigade-heartbeat", daemon=True).start()


def start_host_heartbeat() -> None:
    """The main process's own heartbeat: it holds the messages it has received, also while a
    prefork or autoscaled pool has no child (the events pool at zero processes)."""
    interval = get_settings().HEARTBEAT_INTERVAL_S

    def beat():
        while True:
            try:
                heartbeats.publish_host(_worker["hostname"], incarnation())
            except Exception:
                log.warning("worker heartbeat failed", exc_info=True)
            if _host_stop.wait(interval):
                return

    _host_stop.clear()
    heartbeats.publish_host(_worker["hostname"], incarnation())
    threading.Thread(target=beat, name="brigade-host-heartbeat", daemon=True).start()


def stop_heartbeat() -> None:
    _stop.set()
    try:
        heartbeats.remove(process_id())
    except Exception:
        log.warning("could not remove heartbeat", exc_info=True)


# --- orphaned work ------------------------------------------------------------------------------


def _restore_unacked(task_id: str) -> bool:
    """Put the unacked broker message of `task_id` back at the head of its queue (Redis broker)."""
    from tasks.celery_app import app

    if not is_redis_url(app.conf.broker_url):
        return False  # AMQP brokers redeliver by themselves when the consumer's connection dies
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for tag, raw in channel.client.hscan_iter(channel.unacked_key):
            payload = kombu_loads(bytes_to_str(raw))[0]
            if payload.get("headers", {}).get("id") == task_id:
                channel.qos.restore_by_tag(bytes_to_str(tag), leftmost=True)
                return True
    return False


def recover_orphans() -> list[str]:
    """Requeue tasks whose executing process stopped heartbeating."""
    s = get_settings()
    client = redis_client()
    recovered = []
    for task_id, raw in client.hgetall(running_key()).items():
        entry = json.loads(raw)
        # Running: its process must heartbeat. Only received: its worker's main process must. The
        # very incarnation that wrote the record, not one restarted under the same name and pid.
        alive = (heartbeats.is_alive(entry["process"], entry.get("incarnation")) if entry.get("process")
                 else heartbeats.host_alive(entry["hostname"], entry.get("incarnation")))
        if alive or time.time() - entry["started"] < s.HEARTBEAT_TTL_S:
            continue
        restored = _restore_unacked(task_id)
        client.hdel(running_key(), task_id)
        job_id = entry.get("job_id")
        record = jobs.get_job(job_id) if job_id else None
        if record and record.get("status") == jobs.RUNNING and record.get("worker") == entry["process"]:
            jobs.update_job(job_id, status=jobs.QUEUED, note=f"replica {entry['process']} died mid-task; redelivered")
        log.warning("replica %s died holding %s; message %s", entry.get("process") or entry["hostname"], task_id,
                    "restored" if restored else "not found (already redelivered)")
        recovered.append(task_id)
    return recovered


# --- the worker's signals (connected by tasks/worker.py) ---------------------------------------------


def remember_worker(sender, instance, **_):
    """celeryd_after_setup: the worker's name and queues, and whether it has pool children."""
    _worker["hostname"] = sender
    _worker["queues"] = sorted(q.name for q in instance.app.amqp.queues.consume_from.values())
    # solo and threads pools run tasks in the main process: it has no pool children to heartbeat
    _worker["solo"] = any(name in str(instance.pool_cls).lower() for name in ("solo", "thread"))


def runs_tasks_in_main_process() -> bool:
    return _worker["solo"]


def stop_host_heartbeat() -> None:
    _host_stop.set()
    try:
        heartbeats.remove_host(_worker["hostname"])
    except Exception:
        log.warning("could not remove the worker heartbeat", exc_info=True)


def _track(task_id: str, hostname: str, process: str | None, task_name: str, kwargs: dict | None) -> None:
    """Record who holds `task_id` (process None: received, not yet running), for recover_orphans."""
    entry = {"hostname": hostname, "process": process, "task": task_name, "job_id": (kwargs or {}).get("job_id"),
             "started": time.time(), "incarnation": incarnation()}
    redis_client().hset(running_key(), task_id, json.dumps(entry))


def track_received(request, **_):
    """task_received: from the moment a worker holds a message (before any pool process runs it),
    a record says whose it is: a worker killed between taking a message and starting it must not
    strand it."""
    _track(request.id, _worker["hostname"] or request.hostname, None, request.name, request.kwargs)


def track_running(task_id, task, args=None, kwargs=None, **_):
    """task_prerun: the record now names the executing process."""
    _track(task_id, _worker["hostname"], process_id(), task.name, kwargs)


def untrack(task_id: str) -> None:
    """task_postrun: the task is done (acked); nothing to redeliver."""
    redis_client().hdel(running_key(), task_id)
