"""The redelivery of a dead replica's work.

The Redis transport only redelivers an unacked message after the broker's visibility timeout,
which must outlast the longest task (an hour by default). So a replica killed mid-task would leave
its job waiting an hour. Instead the chores (worker/chores.py, one replica per heartbeat interval)
run this reaper: a task whose executing process has no heartbeat any more gets its message
restored to the queue at once (kombu's own `restore_by_tag`, the call the transport itself uses
after the visibility timeout).
"""

from __future__ import annotations

import json
import logging
import time

from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads as kombu_loads

from brigade import heartbeats, jobs
from brigade.broker_queues import is_redis_url
from brigade.redis_client import redis_client
from brigade.settings import get_settings
from worker.tracking import running_key

log = logging.getLogger(__name__)


def _restore_unacked(task_id: str) -> bool:
    """Put the unacked broker message of `task_id` back at the head of its queue (Redis broker)."""
    from worker.celery_app import app

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
