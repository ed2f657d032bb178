"""Queue names: one place, so a typo cannot create a queue nobody consumes (which task goes to
which queue is the table of work, worker/work.py)."""

from __future__ import annotations

PREDICT = "predict"    # replicated pattern: short videos, N identical replicas
SEGMENTS = "segments"  # sharded pattern: one task per video segment (GPU pool)
CONTROL = "control"    # the control queue: light work (planning, chord callbacks, webhooks) that long segments must not block
EVENTS = "events"      # event-driven pattern: hotel prices on the autoscaling pool

ALL = (PREDICT, SEGMENTS, CONTROL, EVENTS)

#: LEGACY, drained and removable after one release: the control queue was called `merge`. Messages
#: already in a Redis `merge` list at the upgrade must not be stranded, so the queue stays declared
#: and a worker that consumes CONTROL also consumes it (worker/hooks.py); nothing sends to it.
LEGACY_MERGE = "merge"
#: Each legacy queue -> the queue whose workers drain it.
LEGACY_DRAINS = {LEGACY_MERGE: CONTROL}

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


def legacy_drains(consumed) -> list[str]:
    """The legacy queues a worker consuming `consumed` also drains (and does not consume yet)."""
    return [old for old, new in LEGACY_DRAINS.items() if new in consumed and old not in consumed]


def declared(num_shards: int) -> tuple[str, ...]:
    return ALL + tuple(LEGACY_DRAINS) + shard_queues(num_shards)
