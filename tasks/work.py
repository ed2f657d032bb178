"""The table of work: every task the workers run, the queue that carries it, the model its
replicas load, the API endpoint that sends it and whether that spends the caller's rate limit.

Everything else derives from this table: Celery's `include` and `task_routes`
(`tasks.celery_app`), the models a replica warms up for the queues it consumes (`tasks.warmup`),
the endpoints that spend a caller's work budget (`app.limits`) and the task name an API view sends
(`task_for`). Adding an endpoint is one entry here plus its view and its task.

The API imports this module: it names task modules and never imports them (nor torch).
"""

from __future__ import annotations

from dataclasses import dataclass

from brigade import features
from tasks import queues

#: Values of `Work.models`: which models a queue's replicas load at warm-up.
TAGGER = "tagger"  # the TAGGER_MODEL setting (video-tagger, or synth-tagger in the tests)
HOTEL_PRICER = "hotel-price"
#: The frame models a video job may ask for (`brigade.features`: people, faces, text), by store name.
FRAME_MODELS = tuple(features.FRAME_MODELS.values())
VIDEO_MODELS = (TAGGER, *FRAME_MODELS)


@dataclass(frozen=True)
class Work:
    task: str  # Celery task name, "<module>.<function>"
    queue: str
    models: tuple[str, ...] = ()  # what the queue's replicas must have loaded to run it
    endpoint: str | None = None  # the Flask endpoint ("blueprint.view") that sends it
    variant: str | None = None  # which of its endpoint's tasks (the video `mode`)
    rate_limited: bool = False  # sending it spends the caller's work budget (app.limits)

    @property
    def module(self) -> str:
        return self.task.rpartition(".")[0]


TABLE: tuple[Work, ...] = (
    Work("tasks.predict.tag_video", queues.PREDICT, VIDEO_MODELS, "videos.submit_video", "single", rate_limited=True),
    Work("tasks.sharded.plan_video", queues.MERGE, (), "videos.submit_video", "sharded", rate_limited=True),
    Work("tasks.sharded.tag_segment", queues.SEGMENTS, VIDEO_MODELS),  # also the shard.<n> queues (SHARD_ROUTING=hash)
    Work("tasks.sharded.merge_tags", queues.MERGE),
    Work("tasks.events.predict_prices", queues.EVENTS, (HOTEL_PRICER,), "hotels.submit_hotel_prices", rate_limited=True),
    Work("tasks.ops.echo", queues.PREDICT, (), "jobs.echo", rate_limited=True),
    Work("tasks.ops.noop", queues.PREDICT),  # a bare Celery round trip (benchmarks, redelivery checks)
    Work("tasks.webhooks.deliver", queues.MERGE),  # job-completion webhooks, sent by the outbox chore
)

#: The worker's entry module: it wires the life-cycle signal handlers (see tasks/worker.py).
WORKER_ENTRY = "tasks.worker"


def task_modules() -> list[str]:
    """What a worker imports (Celery's `include`): every task module, then the worker entry."""
    return [*dict.fromkeys(work.module for work in TABLE), WORKER_ENTRY]


def routes() -> dict[str, dict]:
    return {work.task: {"queue": work.queue} for work in TABLE}


def rate_limited_endpoints() -> frozenset[str]:
    return frozenset(work.endpoint for work in TABLE if work.rate_limited and work.endpoint)


def task_for(endpoint: str, variant: str | None = None) -> str:
    """The task that `endpoint` sends (for `variant`, where it sends more than one)."""
    for work in TABLE:
        if work.endpoint == endpoint and work.variant == variant:
            return work.task
    raise KeyError(f"no task in the table of work for endpoint {endpoint!r} variant {variant!r}")


def variants(endpoint: str) -> tuple[str, ...]:
    return tuple(work.variant for work in TABLE if work.endpoint == endpoint and work.variant)


def models_for(queue: str) -> list[str]:
    """The models a replica consuming `queue` loads (a `shard.<n>` queue carries segments)."""
    if queues.is_shard_queue(queue):
        queue = queues.SEGMENTS
    return list(dict.fromkeys(model for work in TABLE if work.queue == queue for model in work.models))
