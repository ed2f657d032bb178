"""A worker whose ack of a finished task meets a Redis fault (a failover: a timeout on the lost
primary, NOREPLICAS from a cut-off one) must still go on to its next task.

kombu (5.7) acks a Redis message in two steps: remove it from the unacked index in Redis, then
forget it in the channel's QoS, where it counts against the prefetch limit. When the first step
raises, the second never runs: the delivery stays counted, and with a prefetch of one
(worker_prefetch_multiplier 1, concurrency 1) the worker never asks for a message again, while no
error reaches its consumer to make it reconnect. After a failover a predict worker sat idle for
minutes with jobs waiting for it (`make cluster-chaos`). Here the second step runs whatever the
first does, and the error still goes up (Celery logs "Couldn't ack"). The entry left in the unacked
index is sent again after the broker's visibility timeout, and dropped then: its job has ended
(tasks/base.admission).
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from kombu.transport.virtual.base import QoS


def ack(self, delivery_tag) -> None:
    try:
        self._remove_from_indices(delivery_tag).execute()
    finally:
        QoS.ack(self, delivery_tag)  # what kombu's own ack calls last (super().ack)


def install() -> None:
    """From the worker's entry (worker/entry.py): the process that consumes."""
    kombu_redis.QoS.ack = ack
