"""Arrival history: how many jobs each queue was given per interval, kept in Redis for the
predictive autoscaler (worker/autoscale.py, worker/forecast.py), and the forecasts it writes back.

* `<prefix>:arrivals:<queue>:<bucket>:<index>`: a counter per ARRIVAL_BUCKET_S seconds (`index` =
  floor(time / bucket), the bucket size in the key so that changing it never mixes two series),
  incremented by the API for each accepted job (app/dispatch.py), expiring ARRIVAL_RETENTION_S
  after its last arrival;
* `<prefix>:arrivals:<queue>:first`: when the history begins (the first arrival still within the
  retention), so that the forecast does not take the time before it for a quiet season;
* `<prefix>:forecast:<queue>`: the autoscaler's last forecast (JSON), short-lived so that a stopped
  autoscaler's forecast disappears; the API's /metrics exports it (app/metrics.py).

An arrival costs the API one round trip (INCRBY, EXPIRE, SET NX, EXPIRE in one pipeline); a read
is one MGET of the buckets wanted.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from brigade.redis_client import key, redis_client
from brigade.settings import get_settings


def bucket_index(t: float, bucket_s: float) -> int:
    return math.floor(t / bucket_s)


def bucket_key(queue: str, index: int, bucket_s: float) -> str:
    return key("arrivals", queue, f"{bucket_s:g}", str(index))


def first_key(queue: str) -> str:
    return key("arrivals", queue, "first")


def forecast_key(queue: str) -> str:
    return key("forecast", queue)


def record(queue: str, n: int = 1, now: float | None = None, client=None) -> None:
    """Count `n` arrivals on `queue` in the bucket of `now` (default: the time now)."""
    s = get_settings()
    now = time.time() if now is None else now
    bucket, first, ttl = bucket_key(queue, bucket_index(now, s.ARRIVAL_BUCKET_S), s.ARRIVAL_BUCKET_S), first_key(queue), retention()
    pipe = (client or redis_client()).pipeline(transaction=False)
    pipe.incrby(bucket, n)
    pipe.expire(bucket, ttl)
    pipe.set(first, repr(now), nx=True)
    pipe.expire(first, ttl)  # lives while arrivals keep coming: it goes with the last of the buckets
    pipe.execute()


def retention() -> int:
    return max(1, math.ceil(get_settings().ARRIVAL_RETENTION_S))


@dataclass(frozen=True)
class BucketRead:
    """The buckets of a queue over some time ranges, and its first arrival: one MGET, queued on a
    pipeline the caller runs (the autoscaler reads its job records in the same round trip)."""

    queue: str
    bucket_s: float
    indices: tuple[int, ...]

    @classmethod
    def over(cls, queue: str, spans: Iterable[tuple[float, float]], bucket_s: float | None = None) -> BucketRead:
        """Every bucket that overlaps one of the [start, end) `spans`, once."""
        bucket_s = bucket_s or get_settings().ARRIVAL_BUCKET_S
        indices = {i for start, end in spans for i in range(bucket_index(start, bucket_s), math.ceil(end / bucket_s))}
        return cls(queue, bucket_s, tuple(sorted(indices)))

    def queue_on(self, pipe) -> None:
        pipe.mget([first_key(self.queue), *(bucket_key(self.queue, i, self.bucket_s) for i in self.indices)])

    def decode(self, raw: list) -> tuple[float | None, list[tuple[float, int]]]:
        """(the first arrival's time or None, [(bucket start, count)] with zeros filled)."""
        first, counts = raw[0], raw[1:]
        return (float(first) if first is not None else None,
                [(i * self.bucket_s, int(n or 0)) for i, n in zip(self.indices, counts)])

    def run(self, client=None) -> tuple[float | None, list[tuple[float, int]]]:
        pipe = (client or redis_client()).pipeline(transaction=False)
        self.queue_on(pipe)
        return self.decode(pipe.execute()[0])


def history(queue: str, since: float, until: float, client=None) -> list[tuple[float, int]]:
    """(bucket start, arrivals) of every bucket of `queue` overlapping [since, until), oldest first,
    zeros filled."""
    return BucketRead.over(queue, [(since, until)]).run(client)[1]


def first_arrival(queue: str, client=None) -> float | None:
    """When `queue`'s history begins (None: no arrival within the retention)."""
    value = (client or redis_client()).get(first_key(queue))
    return float(value) if value is not None else None


def write_forecast(pipe, queue: str, record: dict, ttl_s: float) -> None:
    pipe.set(forecast_key(queue), json.dumps(record), px=max(1, int(ttl_s * 1000)))


def read_forecasts(queues: Iterable[str], client=None) -> dict[str, dict]:
    """queue -> the autoscaler's last forecast, for the queues that have a live one."""
    queues = list(queues)
    values = (client or redis_client()).mget([forecast_key(q) for q in queues]) if queues else []
    return {q: json.loads(v) for q, v in zip(queues, values) if v is not None}
