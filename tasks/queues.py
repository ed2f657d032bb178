"""Queue names and task routes: one place, so a typo cannot create a queue nobody consumes."""

from __future__ import annotations

PREDICT = "predict"    # replicated pattern: short videos, N identical replicas
SEGMENTS = "segments"  # sharded pattern: one task per video segment (GPU pool)
MERGE = "merge"        # light work (planning, chord callbacks) that long segments must not block
EVENTS = "events"      # event-driven pattern: hotel prices on the autoscaling pool

ALL = (PREDICT, SEGMENTS, MERGE, EVENTS)

#: Queues whose messages carry a tier priority, and the highest priority RabbitMQ keeps for them
#: (`x-max-priority`; without it RabbitMQ ignores message priorities). Redis emulates priorities
#: with one list per step whatever the queue says.
MAX_PRIORITY = {EVENTS: 9}


def shard_queues(num_shards: int) -> tuple[str, ...]:
    """`shard.0 .. shard.<n-1>`: the queues of SHARD_ROUTING=hash."""
    return tuple(f"shard.{i}" for i in range(num_shards))


def declared(num_shards: int) -> tuple[str, ...]:
    return ALL + shard_queues(num_shards)

ROUTES = {
    "tasks.predict.*": {"queue": PREDICT},
    "tasks.sharded.tag_segment": {"queue": SEGMENTS},
    "tasks.sharded.*": {"queue": MERGE},
    "tasks.events.*": {"queue": EVENTS},
    "tasks.ops.*": {"queue": PREDICT},
}
