"""Held requests, bounded: a `?wait=` long-poll (and the hotel endpoint's short synchronous wait)
holds a request thread while it waits. Each API process lets at most MAX_HELD_WAITS of its threads
wait at once; a request that finds them all taken is answered at once with what is known (the
client polls again), so 64 clients holding long-polls cannot starve /healthz or anyone else."""

from __future__ import annotations

import threading

from app import context
from brigade import jobs

_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()


def _semaphore(size: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        if size not in _slots:
            _slots[size] = threading.BoundedSemaphore(size)
        return _slots[size]


def wait_if_slot_free(job_id: str, seconds: float, *, just_created: bool = False,
                      current: dict | None = None) -> dict | None:
    """`jobs.subscribe_until_terminal` if one of this process's MAX_HELD_WAITS slots is free;
    without a free slot, no wait: the record as it is now.
    `current`: the record the caller has just read (not terminal), so it is not read again."""
    if seconds <= 0 or not (slots := _semaphore(context.settings().MAX_HELD_WAITS)).acquire(blocking=False):
        return current if current is not None else jobs.get_job(job_id)
    try:
        return jobs.subscribe_until_terminal(job_id, seconds, just_created=just_created or current is not None)
    finally:
        slots.release()
