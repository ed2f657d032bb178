"""The events autoscaler's decision (pure logic) and its view of the broker: which Redis lists hold
a queue's messages, per priority, checked against kombu itself."""

from __future__ import annotations

import types

import pytest

from brigade.broker_queues import DEFAULT_PRIORITY_STEPS, redis_queue_keys
from worker.autoscale import (
    BrokerDepth,
    History,
    QueueDepthAutoscaler,
    ScalePolicy,
    ServiceTime,
    decide,
    forecast_processes,
    poisson_quantile,
    wanted_processes,
)

LIMITS = {"minimum": 0, "maximum": 4, "cooldown_s": 30.0}


def _after(*looks) -> History:
    """The history after looks of (time, wanted)."""
    history = History()
    for now, wanted in looks:
        history = history.add(now, wanted, LIMITS["cooldown_s"])
    return history


def _decide(depth, in_worker, current, now, history, **overrides):
    return decide(depth=depth, in_worker=in_worker, current=current, now=now, history=history, **{**LIMITS, **overrides})[0]


@pytest.mark.parametrize("depth, in_worker, per_process, expected", [
    (0, 0, 1, 0), (1, 0, 1, 1), (0, 1, 1, 1), (2, 1, 1, 3), (100, 0, 1, 4), (7, 1, 4, 2), (-3, 0, 1, 0),
])
def test_wanted_is_backlog_plus_tasks_in_hand_clamped(depth, in_worker, per_process, expected):
    assert wanted_processes(depth, in_worker, 0, 4, per_process) == expected


def test_wanted_never_goes_below_the_minimum():
    assert wanted_processes(0, 0, 2, 4) == 2


def test_a_backlog_scales_up_at_once_even_inside_the_cooldown():
    assert _decide(depth=50, in_worker=0, current=0, now=100.0, history=_after((99.0, 0))) == 4
    assert _decide(depth=1, in_worker=1, current=1, now=100.0, history=_after((99.0, 1))) == 2


def test_no_scale_down_before_the_cooldown_has_passed():
    assert _decide(depth=0, in_worker=0, current=4, now=129.9, history=_after((0.0, 0), (100.0, 4))) == 4


def test_after_the_cooldown_it_goes_down_to_what_is_wanted():
    history = _after((0.0, 0), (100.0, 4))
    assert _decide(depth=0, in_worker=0, current=4, now=130.0, history=history) == 0
    assert _decide(depth=0, in_worker=1, current=4, now=130.0, history=history) == 1
    assert _decide(depth=0, in_worker=0, current=4, now=130.0, history=history, minimum=1) == 1


def test_never_below_the_tasks_in_hand():
    assert _decide(depth=0, in_worker=3, current=4, now=1000.0, history=_after((0.0, 4))) == 3


def test_a_pool_is_watched_for_a_whole_cooldown_before_it_may_shrink():
    assert _decide(depth=0, in_worker=0, current=4, now=50.0, history=History()) == 4  # first look
    assert _decide(depth=0, in_worker=0, current=4, now=79.9, history=_after((50.0, 0))) == 4
    assert _decide(depth=0, in_worker=0, current=4, now=80.0, history=_after((50.0, 0))) == 0


def test_a_pool_above_a_lowered_maximum_shrinks_at_once():
    assert _decide(depth=10, in_worker=0, current=4, now=5.0, history=_after((4.0, 4)), maximum=2) == 2


def test_down_only_to_the_most_it_needed_during_the_cooldown_so_a_wavering_load_does_not_flap():
    policy = ScalePolicy(minimum=0, maximum=4, cooldown_s=3.0)
    assert policy.target(40, 0, 0, now=0.0) == 4
    current, targets = 4, []
    for step in range(1, 25):  # 0.5 s ticks, the load wavering between 1 and 3 processes' worth
        now = step * 0.5
        current = policy.target(0, 3 if step % 2 else 1, current, now)
        targets.append((now, current))
    assert dict(targets)[2.5] == 4 and dict(targets)[3.0] == 3  # the 4 aged out after 3 s: down to 3, not 1
    assert {c for t, c in targets if t >= 3.0} == {3}  # and it stays there, no flapping
    for step in range(25, 40):  # then the load stops
        current = policy.target(0, 0, current, step * 0.5)
    assert current == 0


def test_the_history_stays_small_however_many_tasks_arrive():
    history = History()
    for i in range(10_000):
        history = history.add(i * 0.001, i % 5, 30.0)
    assert len(history.peaks) <= 5 and history.peak == 4


def test_needing_the_pool_again_restarts_the_cooldown():
    policy = ScalePolicy(minimum=0, maximum=4, cooldown_s=3.0)
    timeline = [
        # (now, depth, in_worker, current) -> expected target
        (0.0, 0, 0, 0, 0),
        (1.0, 40, 0, 0, 4),    # burst: straight to max
        (1.5, 30, 4, 4, 4),
        (2.0, 0, 4, 4, 4),     # draining: still needs 4
        (3.0, 0, 1, 4, 4),     # needs 1, but needed 4 at 2.0
        (4.0, 0, 0, 4, 4),
        (4.5, 2, 2, 4, 4),     # needs 4 again at 4.5: the clock restarts
        (7.0, 0, 0, 4, 4),     # 2.5 s after, not 3
        (7.5, 0, 0, 4, 0),     # 3 s after the last need: down to the minimum
        (8.0, 0, 0, 0, 0),
        (8.5, 1, 0, 0, 1),     # from zero, a single message starts a process at once
    ]
    for now, depth, in_worker, current, expected in timeline:
        assert policy.target(depth, in_worker, current, now) == expected, (now, depth, in_worker, current)


# --- with a forecast (AUTOSCALE_PREDICTIVE) ---------------------------------------------------------------


@pytest.mark.parametrize("rate, service_time_s, utilization, expected", [
    (0.0, 0.05, 0.7, 0), (-1.0, 0.05, 0.7, 0), (1.0, 0.05, 0.7, 1), (14.0, 0.05, 0.7, 1), (15.0, 0.05, 0.7, 2),
    (40.0, 0.05, 0.7, 3), (40.0, 0.05, 1.0, 2), (100.0, 0.2, 0.5, 40),
])
def test_the_forecast_asks_for_rate_times_service_time_over_utilisation(rate, service_time_s, utilization, expected):
    assert forecast_processes(rate, service_time_s, utilization) == expected


def test_the_forecast_keeps_headroom_for_poisson_clumps():
    # 12/s x 0.2 s: 2.4 tasks in service on average; 4 processes by utilisation, 5 for 95 % of the moments
    assert forecast_processes(12.0, 0.2, 0.7) == 4
    assert forecast_processes(12.0, 0.2, 0.7, quantile=0.95) == 5
    assert forecast_processes(12.0, 0.2, 0.7, quantile=0.999) == 8
    assert forecast_processes(0.0, 0.2, 0.7, quantile=0.95) == 0
    assert forecast_processes(100.0, 0.2, 0.5, quantile=0.95) == 40  # the utilisation rule is already higher
    assert [poisson_quantile(2.4, q) for q in (0.09, 0.5, 0.95)] == [0, 2, 5]


def test_the_forecast_scales_up_ahead_of_a_backlog_but_never_past_the_maximum():
    assert _decide(depth=0, in_worker=0, current=0, now=100.0, history=_after((99.0, 0)), ahead=3) == 3
    assert _decide(depth=0, in_worker=0, current=0, now=100.0, history=_after((99.0, 0)), ahead=10) == 4
    assert _decide(depth=0, in_worker=0, current=1, now=100.0, history=_after((99.0, 0)), ahead=10, maximum=2) == 2


def test_the_forecast_never_takes_the_pool_below_what_the_backlog_wants():
    assert _decide(depth=3, in_worker=1, current=1, now=100.0, history=_after((99.0, 1)), ahead=1) == 4
    assert _decide(depth=0, in_worker=2, current=0, now=100.0, history=_after((99.0, 0)), ahead=0, minimum=1) == 2


def test_processes_started_ahead_are_kept_for_the_cooldown_like_any_others():
    policy = ScalePolicy(minimum=0, maximum=4, cooldown_s=3.0)
    assert policy.target(0, 0, 0, now=0.0, ahead=3) == 3  # the rush is forecast: 3 processes before it
    assert policy.target(0, 0, 3, now=2.9, ahead=0) == 3  # the forecast drops: held for the cool-down
    assert policy.target(0, 0, 3, now=3.0, ahead=0) == 0


def test_without_a_forecast_the_decisions_are_the_reactive_ones():
    """ahead=0 (AUTOSCALE_PREDICTIVE off) changes no decision over a varied load."""
    reactive, predictive = ScalePolicy(0, 4, 3.0), ScalePolicy(0, 4, 3.0)
    current_r = current_p = 0
    for step in range(200):
        depth, in_worker = (step * 7) % 11 if step % 30 < 12 else 0, step % 3
        current_r = reactive.target(depth, in_worker, current_r, now=step * 0.25)
        current_p = predictive.target(depth, in_worker, current_p, now=step * 0.25, ahead=0)
        assert current_p == current_r


def test_the_predictive_autoscaler_is_off_by_default():
    scaler = QueueDepthAutoscaler(None, 4, 0)  # no pool, no worker: nothing is started or read
    assert scaler.predictor is None and scaler.ahead(tick=True) == 0


def test_the_service_time_is_the_default_until_measured_then_a_weighted_mean():
    service = ServiceTime(default_s=0.05, weight=0.5)
    assert service.seconds == 0.05
    service.add(0.2)
    assert service.seconds == pytest.approx(0.2)  # the first measure replaces the default
    service.add(0.1)
    assert service.seconds == pytest.approx(0.15)


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


@pytest.mark.app  # the session's test Redis
def test_depth_counts_messages_of_every_priority_in_a_real_redis(redis_server):
    """Publish through kombu with priorities 0..9 to a private queue; the depth sees all of them."""
    from kombu import Connection, Exchange, Queue

    from worker.celery_app import app

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


@pytest.mark.integration  # a RabbitMQ on 127.0.0.1, when there is one
def test_depth_on_rabbitmq_from_a_passive_declare():
    """The AMQP branch: the ready-message count of a passive queue_declare (skips without RabbitMQ)."""
    from celery import Celery
    from kombu import Connection, Exchange, Queue

    from tests.stack import AMQP_URL, rabbitmq_answers

    reason = rabbitmq_answers()
    if reason:
        pytest.skip(reason)
    queue = Queue("depth-probe", Exchange("depth-probe", type="direct"), routing_key="depth-probe")
    # Publisher confirms: each publish returns once the broker has the message, so the count read
    # over another connection cannot race the publishes.
    with Connection(AMQP_URL, connect_timeout=3, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for n in range(3):
            producer.publish({"n": n}, exchange=queue.exchange, routing_key="depth-probe", declare=[queue], serializer="json")
        depth = BrokerDepth(Celery("probe", broker=AMQP_URL), "depth-probe")
        try:
            assert not depth.is_redis
            assert depth.read() == 3
        finally:
            queue(conn.default_channel).delete()
