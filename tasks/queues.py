"""Queue names: one place, so a typo cannot create a queue nobody consumes (which task goes to
which queue is the table of work, tasks/work.py)."""

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


#: Prefix of the per-shard queues of SHARD_ROUTING=hash (`shard.0`, `shard.1`, ...).
SHARD_PREFIX = "shard."


def shard_queue(index: int) -> str:
    return f"{SHARD_PREFIX}{index}"


def shard_queues(num_shards: int) -> tuple[str, ...]:
    """`shard.0 .. shard.<n-1>`: the queues of SHARD_ROUTING=hash."""
    return tuple(shard_queue(i) for i in range(num_shards))


def is_shard_queue(name: str) -> bool:
    return name.startswith(SHARD_PREFIX)


def declared(num_shards: int) -> tuple[str, ...]:
    return ALL + shard_queues(num_shards)
