"""Where a queue's waiting messages live in the broker: one place for the API's queue-depth
metrics and the events autoscaler."""

from __future__ import annotations

#: kombu's Redis transport puts a message of priority p>0 on `<queue>\x06\x16<step>` (its
#: `Channel.sep`), one list per priority step; priority 0 stays on `<queue>` itself.
REDIS_PRIORITY_SEP = "\x06\x16"
DEFAULT_PRIORITY_STEPS = (0, 3, 6, 9)  # kombu.transport.redis.PRIORITY_STEPS
REDIS_SCHEMES = ("redis://", "rediss://", "unix://", "redis+socket://", "sentinel://")
AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


def is_redis_url(url: str) -> bool:
    return (url or "").startswith(REDIS_SCHEMES)


def is_amqp_url(url: str) -> bool:
    return (url or "").startswith(AMQP_SCHEMES)


def redis_queue_keys(queue: str, priority_steps=DEFAULT_PRIORITY_STEPS, prefix: str = "") -> list[str]:
    """The Redis lists kombu keeps for `queue`: itself for step 0, `<queue>\\x06\\x16<step>` for others."""
    return [prefix + (f"{queue}{REDIS_PRIORITY_SEP}{step}" if step else queue) for step in priority_steps]


def redis_layout(celery_app) -> tuple[tuple[int, ...], str]:
    """(priority steps, global key prefix) of the app's Redis transport."""
    options = celery_app.conf.broker_transport_options or {}
    return tuple(options.get("priority_steps") or DEFAULT_PRIORITY_STEPS), options.get("global_keyprefix", "")


def redis_queue_depths(client, names, priority_steps=DEFAULT_PRIORITY_STEPS, prefix: str = "") -> dict[str, int]:
    """Messages waiting per queue on the Redis transport, every priority list counted, in one
    round trip on the caller's client (whose timeouts bound it). Raises when Redis does not answer."""
    pipe = client.pipeline(transaction=False)
    for name in names:
        for list_name in redis_queue_keys(name, priority_steps, prefix):
            pipe.llen(list_name)
    counts = iter(pipe.execute())
    return {name: int(sum(next(counts) for _ in priority_steps)) for name in names}


def amqp_queue_depth(channel, queue: str) -> int:
    """Ready messages of `queue` on AMQP (unacked ones not counted), from a passive declare. A queue
    nobody declared raises one of the connection's `channel_errors`, and the broker closes `channel`."""
    return int(channel.queue_declare(queue=queue, passive=True).message_count)
