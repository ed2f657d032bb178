"""The events autoscaler's decision (pure logic) and its view of the broker: which Redis lists hold
a queue's messages, per priority, checked against kombu itself."""

from __future__ import annotations

import types

import pytest

from tasks.autoscale import DEFAULT_PRIORITY_STEPS, BrokerDepth, ScalePolicy, decide, redis_queue_keys, wanted_processes

LIMITS = {"minimum": 0, "maximum": 4, "cooldown_s": 30.0}


def _decide(depth, in_worker, current, now, last_needed_at, **overrides):
    return decide(depth=depth, in_worker=in_worker, current=current, now=now, last_needed_at=last_needed_at,
                  **{**LIMITS, **overrides})


@pytest.mark.parametrize("depth, in_worker, per_process, expected", [
    (0, 0, 1, 0), (1, 0, 1, 1), (0, 1, 1, 1), (2, 1, 1, 3), (100, 0, 1, 4), (7, 1, 4, 2), (-3, 0, 1, 0),
])
def test_wanted_is_backlog_plus_tasks_in_hand_clamped(depth, in_worker, per_process, expected):
    assert wanted_processes(depth, in_worker, 0, 4, per_process) == expected


def test_wanted_never_goes_below_the_minimum():
    assert wanted_processes(0, 0, 2, 4) == 2


def test_a_backlog_scales_up_at_once_even_inside_the_cooldown():
    assert _decide(depth=50, in_worker=0, current=0, now=100.0, last_needed_at=99.0) == (4, 100.0)
    assert _decide(depth=1, in_worker=1, current=1, now=100.0, last_needed_at=99.0) == (2, 100.0)


def test_no_scale_down_before_the_cooldown_has_passed():
    target, last = _decide(depth=0, in_worker=0, current=4, now=129.9, last_needed_at=100.0)
    assert (target, last) == (4, 100.0)


def test_after_the_cooldown_it_goes_straight_to_what_is_wanted():
    assert _decide(depth=0, in_worker=0, current=4, now=130.0, last_needed_at=100.0) == (0, 130.0)
    assert _decide(depth=0, in_worker=1, current=4, now=130.0, last_needed_at=100.0) == (1, 130.0)
    assert _decide(depth=0, in_worker=0, current=4, now=130.0, last_needed_at=100.0, minimum=1) == (1, 130.0)


def test_never_below_the_tasks_in_hand():
    target, _ = _decide(depth=0, in_worker=3, current=4, now=1000.0, last_needed_at=0.0)
    assert target == 3


def test_the_first_look_starts_the_cooldown_clock():
    assert _decide(depth=0, in_worker=0, current=4, now=50.0, last_needed_at=None) == (4, 50.0)


def test_a_pool_above_a_lowered_maximum_shrinks_at_once():
    assert _decide(depth=10, in_worker=0, current=4, now=5.0, last_needed_at=4.0, maximum=2) == (2, 5.0)


def test_needing_the_pool_again_restarts_the_cooldown():
    policy = ScalePolicy(minimum=0, maximum=4, cooldown_s=3.0)
    timeline = [
        # (now, depth, in_worker, current) -> expected target
        (0.0, 0, 0, 0, 0),
        (1.0, 40, 0, 0, 4),    # burst: straight to max
        (1.5, 30, 4, 4, 4),
        (2.0, 0, 4, 4, 4),     # draining: still needs 4
        (3.0, 0, 1, 4, 4),     # needs 1, cooling down since 2.0
        (4.0, 0, 0, 4, 4),
        (4.5, 2, 2, 4, 4),     # needs 4 again at 4.5: the clock restarts
        (7.0, 0, 0, 4, 4),     # 2.5 s after, not 3
        (7.5, 0, 0, 4, 0),     # 3 s after the last need: down to the minimum
        (8.0, 0, 0, 0, 0),
        (8.5, 1, 0, 0, 1),     # from zero, a single message starts a process at once
    ]
    for now, depth, in_worker, current, expected in timeline:
        assert policy.target(depth, in_worker, current, now) == expected, (now, depth, in_worker, current)


def _kombu_key(queue: str, priority: int) -> str:
    """What kombu's Redis channel names the list of `queue` at `priority` (its own code, unbound)."""
    from kombu.transport.redis import Channel

    fake = types.SimpleNamespace(priority_steps=list(DEFAULT_PRIORITY_STEPS), sep=Channel.sep)
    fake.priority = lambda n: Channel.priority(fake, n)
    return Channel._q_for_pri(fake, queue, priority)


def test_the_lists_read_are_the_ones_kombu_writes_for_every_priority():
    keys = redis_queue_keys("events")
    assert keys[0] == "events"
    for priority in range(10):
        assert _kombu_key("events", priority) in keys
    assert redis_queue_keys("events", prefix="p:")[1] == "p:" + _kombu_key("events", 3)


def test_depth_counts_messages_of_every_priority_in_a_real_redis(redis_server):
    """Publish through kombu with priorities 0..9 to a private queue; the depth sees all of them."""
    from kombu import Connection, Exchange, Queue

    from tasks.celery_app import app

    queue = Queue("depth-probe", Exchange("depth-probe", type="direct"), routing_key="depth-probe")
    with Connection(redis_server) as conn:
        producer = conn.Producer()
        for priority in range(10):
            producer.publish({"n": priority}, exchange=queue.exchange, routing_key="depth-probe", declare=[queue],
                             priority=priority, serializer="json")
        try:
            depth = BrokerDepth(app, "depth-probe")
            assert depth.is_redis
            assert depth.read() == 10
        finally:
            queue(conn.default_channel).purge()
    assert depth.read() == 0
