"""The table of work: every task the workers run, the queue that carries it, the model its
replicas load, the API endpoint that sends it, the OpenAPI operation that documents it and whether
that spends the caller's rate limit; and per queue, the pool its workers run (`POOLS`).

Everything else derives from these tables: Celery's `include` and `task_routes`
(`worker.celery_app`), the models a replica warms up for the queues it consumes (`worker.warmup`),
the endpoints that spend a caller's work budget (`app.limits`), the task name an API view sends
(`task_for`), the work paths of /openapi.json (`app.openapi`), the worker command lines
(`devtools.procs`, checked against the deploy files by tests/test_deploy_files.py) and which
replicas /readyz waits for (`app.health`). Adding an endpoint is one entry here plus its view, its
task and its OpenAPI operation.

The API imports this module: it names task modules and never imports them (nor torch); nor does
the worker runtime (worker/), which reaches a task module only by the names written here (the
task rows, `TASK_HOOKS`).
"""

from __future__ import annotations

from dataclasses import dataclass

from brigade import features
from worker import queues

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
    openapi: str | None = None  # "METHOD /path": its endpoint's operation in app.openapi.WORK_OPERATIONS

    @property
    def module(self) -> str:
        return self.task.rpartition(".")[0]


#: The task that delivers a job's webhook: the outbox chore sends it by this name.
WEBHOOK_DELIVERY = "tasks.webhooks.deliver"

TABLE: tuple[Work, ...] = (
    Work("tasks.predict.tag_video", queues.PREDICT, VIDEO_MODELS, "videos.submit_video", "single", rate_limited=True,
         openapi="POST /v1/videos"),
    Work("tasks.sharded.plan_video", queues.CONTROL, (), "videos.submit_video", "sharded", rate_limited=True,
         openapi="POST /v1/videos"),
    Work("tasks.sharded.tag_segment", queues.SEGMENTS, VIDEO_MODELS),  # also the shard.<n> queues (SHARD_ROUTING=hash)
    Work("tasks.sharded.merge_tags", queues.CONTROL),
    Work("tasks.events.predict_prices", queues.EVENTS, (HOTEL_PRICER,), "hotels.submit_hotel_prices", rate_limited=True,
         openapi="POST /v1/hotel-prices"),
    Work("tasks.ops.echo", queues.PREDICT, (), "jobs.echo", rate_limited=True, openapi="POST /v1/echo"),
    Work("tasks.ops.noop", queues.PREDICT),  # a bare Celery round trip (benchmarks, redelivery checks)
    Work(WEBHOOK_DELIVERY, queues.CONTROL),  # job-completion webhooks, sent by the outbox chore (worker/chores.py)
)

#: Celery's pool kinds (`--pool`) the workers run.
PREFORK, SOLO, THREADS = "prefork", "solo", "threads"


@dataclass(frozen=True)
class Pool:
    """How the workers of one queue run: the pool kind and size of their command line, and
    whether the API is ready only once one of them is."""

    queue: str
    kind: str  # Celery's --pool
    concurrency: int = 1  # processes (prefork) or threads; a solo pool runs one task at a time
    autoscaled: bool = False  # --autoscale=EVENTS_MAX,EVENTS_MIN on the backlog (worker.autoscale), not `concurrency`
    readiness: bool = False  # /readyz answers 503 until a replica of this queue is ready


POOLS: tuple[Pool, ...] = (
    Pool(queues.PREDICT, PREFORK, 1, readiness=True),  # replicated: one model per process, N replicas
    Pool(queues.SEGMENTS, SOLO),  # one device per worker; also the shard.<n> queues
    Pool(queues.CONTROL, THREADS, 4),  # light work that long segments must not block
    Pool(queues.EVENTS, PREFORK, autoscaled=True),  # the model loaded before forking, scaled on the backlog
)

#: The worker's entry module: it registers the life cycle's bootsteps and signal hooks (worker/entry.py).
WORKER_ENTRY = "worker.entry"

#: What a task module does at a point of the worker's life cycle: (Celery signal, "module:function").
#: The worker runtime connects them by name (worker/hooks.py) and imports no task module itself.
TASK_HOOKS: tuple[tuple[str, str], ...] = (
    ("worker_init", "tasks.events:preload_in_parent"),  # an events worker loads its model before forking
    ("worker_process_init", "tasks.events:on_pool_process_start"),  # each child counts its tasks from here
    ("worker_ready", "tasks.events:report_preload"),  # and says, once logging is set up, what the preload did
)


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


def _declared_queue(queue: str) -> str:
    """The table's name for `queue`: a `shard.<n>` queue carries segments."""
    return queues.SEGMENTS if queues.is_shard_queue(queue) else queue


def models_for(queue: str) -> list[str]:
    """The models a replica consuming `queue` loads."""
    queue = _declared_queue(queue)
    return list(dict.fromkeys(model for work in TABLE if work.queue == queue for model in work.models))


def pool_for(queue_list: str) -> Pool:
    """The pool declared for a worker consuming `queue_list` (`-Q`: its first queue decides)."""
    queue = _declared_queue(queue_list.split(",")[0].strip())
    for pool in POOLS:
        if pool.queue == queue:
            return pool
    raise KeyError(f"no pool in the table of work for queue {queue!r}")


def readiness_queues() -> tuple[str, ...]:
    """The queues that must each have a ready replica before /readyz says ready."""
    return tuple(pool.queue for pool in POOLS if pool.readiness)


def openapi_operations(rows: tuple[Work, ...] = TABLE) -> tuple[str, ...]:
    """Every "METHOD /path" the rows name, once each, in table order."""
    return tuple(dict.fromkeys(work.openapi for work in rows if work.openapi))


def rate_limited_operations() -> frozenset[str]:
    return frozenset(work.openapi for work in TABLE if work.rate_limited and work.openapi)
