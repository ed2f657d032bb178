"""Event-driven pattern: price a hotel stay on the autoscaled `events` pool.

Cold start is kept small by loading the model once in the worker's *parent* (`worker_init`,
before the pool forks): every child the autoscaler starts inherits the loaded pricer
copy-on-write, so its first request costs no model load. Only workers that consume `events` do
this, after `torch.set_num_threads(1)` (a parent that ran OpenMP threads must not fork). When CUDA
is available the parent does **not** preload: a CUDA context does not survive fork, and a parent
that touched CUDA would hand its children a broken one; each child then loads its own copy.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from datetime import date, timedelta

from brigade import jobs
from brigade.settings import get_settings
from tasks.base import JobTask
from worker import queues
from worker.celery_app import app
from worker.identity import process_id
from worker.warmup import hotel_pricer

log = logging.getLogger(__name__)

#: What the parent did before forking; children inherit it.
PRELOAD: dict = {"preloaded": False, "seconds": None, "reason": "not an events worker"}
#: Per pool process: how many tasks it has run (0 = its next task is its first, a cold one).
_PROCESS: dict = {"pid": None, "tasks": 0, "started": None}


def preload() -> dict:
    """Load (and run once) the hotel pricer in this process, unless CUDA is available."""
    s = get_settings()
    if not s.EVENTS_PRELOAD:
        PRELOAD.update(preloaded=False, reason="EVENTS_PRELOAD is off")
        return PRELOAD
    import torch

    if cuda_available(torch):
        PRELOAD.update(preloaded=False, reason="CUDA is available: no model in the parent before fork; each child loads its own")
        log.warning("events: %s", PRELOAD["reason"])
        return PRELOAD
    torch.set_num_threads(1)  # no OpenMP thread pool in a parent that will fork
    started = time.perf_counter()
    pricer = hotel_pricer()
    today = date.today()
    pricer.predict(pricer.destinations[0], today + timedelta(days=30), today + timedelta(days=32), 2, today=today)
    PRELOAD.update(preloaded=True, seconds=round(time.perf_counter() - started, 3), reason="",
                   model=f"{pricer.name}@{pricer.version}")
    freeze_heap()
    return PRELOAD


def cuda_available(torch) -> bool:
    """torch.cuda.is_available() without initialising CUDA here: the default check calls cuInit,
    which alone would break CUDA in every forked child; the NVML-based one does not."""
    previous = os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK")
    os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"
    try:
        return torch.cuda.is_available()
    finally:
        if previous is None:
            os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)
        else:
            os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = previous


def freeze_heap() -> None:
    """Move everything allocated so far out of the garbage collector's sight (`gc.freeze`).

    Celery's prefork pool runs `gc.collect()` in the parent before every fork (celery #2927).
    With torch and the model in the parent that is a full pass over ~200k objects, ~50 ms per new
    process with the parent's event loop blocked, so a scale-up from 0 to 4 stalled dispatch for
    a fifth of a second. Frozen objects are skipped by that pass and by the children's own
    collections, which would otherwise also copy the parent's pages as they touch them."""
    gc.collect()
    gc.freeze()


def preload_in_parent(sender=None, **_):
    """worker_init (a `worker.work.TASK_HOOKS` row, connected by worker/hooks.py): an events worker loads the pricer before forking."""
    consumed = {q.name for q in sender.app.amqp.queues.consume_from.values()} if sender is not None else set()
    if queues.EVENTS in consumed:
        try:
            preload()
        except Exception:  # the children load it themselves (and report unready if they cannot)
            log.exception("events: preloading the hotel model failed")
            PRELOAD.update(preloaded=False, reason="preload failed; see the worker log")


def report_preload() -> None:
    """At worker_ready (a `worker.work.TASK_HOOKS` row)."""
    # worker_init runs before Celery sets up logging: say what the preload did once it has.
    if PRELOAD["preloaded"]:
        freeze_heap()  # again, now that the consumer and the pool exist
        log.info("events: %s preloaded in the parent in %.2fs; pool children start warm", PRELOAD["model"], PRELOAD["seconds"])
    elif PRELOAD["reason"] != "not an events worker":
        log.warning("events: model not preloaded in the parent: %s", PRELOAD["reason"])


def on_pool_process_start(**_):
    """worker_process_init (a `worker.work.TASK_HOOKS` row): count this child's tasks from here."""
    _PROCESS.update(pid=os.getpid(), tasks=0, started=time.time())
    if PRELOAD["preloaded"] and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(get_settings().TORCH_THREADS)


@app.task(name="tasks.events.predict_prices", base=JobTask)
def predict_prices(job_id: str, request: dict) -> dict:
    """`request`: the stay as the API validated it (`models.hotel.stay.StayRequest.message`); the
    caller's tier travels as the message's priority, not as an argument."""
    started = time.perf_counter()
    process_age_s = time.time() - _PROCESS["started"] if _PROCESS["started"] else None
    # Which pool process ran it and how warm it was: operators read it from the job record (the
    # autoscaler's cost of a scale-up), clients do not get it.
    jobs.mark_running(job_id, process_id(), process={
        "first_task_of_process": _PROCESS["tasks"] == 0, "process_age_s": process_age_s and round(process_age_s, 4),
        "preloaded_in_parent": PRELOAD["preloaded"]})
    _PROCESS["tasks"] += 1

    t0 = time.perf_counter()
    pricer = hotel_pricer()  # the preloaded, version-pinned service (the registry's per-process cache)
    model_s = time.perf_counter() - t0
    simulated_ms = get_settings().EVENTS_SIMULATED_IO_MS
    if simulated_ms > 0:
        time.sleep(simulated_ms / 1000)
    t1 = time.perf_counter()
    try:  # the model checks the stay as the API did (models/hotel/stay.py): a message from elsewhere may fail
        hotels = pricer.handle(request)
    except ValueError as exc:
        jobs.fail(job_id, {"type": "invalid-request", "detail": str(exc)})
        return {"job_id": job_id, "failed": True}
    predict_s = time.perf_counter() - t1
    nights = (date.fromisoformat(request["check_out"]) - date.fromisoformat(request["check_in"])).days
    result = {
        "destination": request["destination"], "check_in": request["check_in"], "check_out": request["check_out"],
        "nights": nights, "guests": request["guests"], "budget": request.get("budget"),
        "currency": "USD", "hotels": hotels,
    }
    timings = {"model_lookup_s": round(model_s, 6), "predict_s": round(predict_s, 6),
               "simulated_io_s": simulated_ms / 1000, "total_s": round(time.perf_counter() - started, 6)}
    jobs.succeed(job_id, result, timings=timings, model=pricer.describe())
    return {"job_id": job_id}
