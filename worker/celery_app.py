"""The Celery app, configured from the one settings module.

Workers start with `celery -A worker.celery_app worker -Q <queue>`; the API imports this module to
send tasks by name and never imports the task modules (so it never imports torch).
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from brigade.settings import Settings, get_settings
from worker import queues, work

#: What a worker imports: the task modules of the table of work, then the worker entry module.
TASK_MODULES = work.task_modules()
#: With Sentinel: longer than kombu's 1-s BRPOP, short enough that a publish to a lost primary
#: fails (and is retried on the new one) well inside the API's 503 window.
BROKER_SOCKET_TIMEOUT_S = 5.0


def celery_config(s: Settings) -> dict:
    return {**_base_config(s), **_sentinel_config(s)}


def _sentinel_config(s: Settings) -> dict:
    """With REDIS_SENTINELS: the broker and the result backend find the primary through the
    Sentinels (their own password in `sentinel_kwargs`: the URLs' reaches only the primary) and
    ride a failover out. kombu waits forever on a dead connection unless given `socket_timeout`
    (a lost host sends no reset); the result backend retries what it writes (a chord's counter,
    a segment's result) instead of failing the task on the first connection error."""
    if not s.sentinels:
        return {}
    from brigade.redis_client import sentinel_options

    timeout = s.REDIS_SOCKET_TIMEOUT_S
    sentinel = {"master_name": s.REDIS_MASTER_NAME, "sentinel_kwargs": sentinel_options(timeout)}
    broker = {**sentinel, "socket_timeout": BROKER_SOCKET_TIMEOUT_S, "socket_connect_timeout": timeout,
              "health_check_interval": 10}
    return {
        "broker_transport_options": {**_base_config(s)["broker_transport_options"], **broker},
        "result_backend_transport_options": {**_base_config(s)["result_backend_transport_options"], **sentinel},
        "redis_socket_timeout": BROKER_SOCKET_TIMEOUT_S,
        "redis_socket_connect_timeout": timeout,
        "result_backend_always_retry": True,
        # ...except a chord part's own update (on_chord_part_return): with no retry, one refused
        # write (NOREPLICAS from an old primary back from a partition, before the Sentinels demote
        # it) lost the part, and the merge never ran. One retry reconnects through the Sentinels.
        "redis_retry_on_timeout": True,
        "result_backend_max_retries": 30,
        "result_backend_max_sleep_between_retries_ms": 5000,
    }


def _base_config(s: Settings) -> dict:
    return {
        "broker_url": s.broker_url,
        "result_backend": s.result_backend,
        # JSON only: a pickled message from anyone who can reach the broker would run code.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # Fair dispatch and no lost work: a replica takes one task at a time and acks it only when
        # done; if the replica dies, the message goes back to the queue.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_acks_on_failure_or_timeout": True,
        "broker_transport_options": {
            "visibility_timeout": s.VISIBILITY_TIMEOUT_S,
            "queue_order_strategy": "priority",
        },
        "result_backend_transport_options": {"visibility_timeout": s.VISIBILITY_TIMEOUT_S},
        "broker_connection_retry_on_startup": True,
        "task_soft_time_limit": s.TASK_SOFT_TIME_LIMIT_S,
        "task_time_limit": s.TASK_TIME_LIMIT_S,
        "result_expires": s.RESULT_EXPIRES_S,
        "result_extended": True,
        "task_queues": [Queue(name, routing_key=name, max_priority=queues.MAX_PRIORITY.get(name))
                        for name in queues.declared(s.NUM_SHARDS)],
        "task_default_queue": queues.PREDICT,
        "task_create_missing_queues": False,
        "task_routes": work.routes(),
        "task_track_started": True,
        "task_send_sent_event": True,
        "worker_send_task_events": True,
        # The model loads in a thread of each pool process; the process itself starts at once.
        "worker_proc_alive_timeout": 30,
        "worker_hijack_root_logger": False,
        # `--autoscale=MAX,MIN` workers (the events pool) scale on the broker's backlog, with a cool-down.
        "worker_autoscaler": "worker.autoscale:QueueDepthAutoscaler",
        "timezone": "UTC",
    }


def create_celery(settings: Settings | None = None) -> Celery:
    s = settings or get_settings()
    app = Celery("brigade", include=TASK_MODULES)
    app.conf.update(celery_config(s))
    return app


app = create_celery()
