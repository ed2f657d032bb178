"""The run's jobs as the cluster holds them, read from the harness (the root namespace): records
through whichever Redis node is primary now, who is running what (the workers' `running` hash),
the terminal-update counter, and what the hosts' logs say ran (task completions, merges).

The harness reads the store directly, not through the API: the API's answers are what is being
measured, and a job's record must be checked even while the API refuses requests."""

from __future__ import annotations

import hashlib
import json
import re

import redis

from brigade import job_keys, jobs
from devtools import procs
from devtools.cluster import Cluster
from worker.tracking import running_key

FIELDS = ("status", "kind", "mode", "worker", "finished_at", "error")


def store(cluster: Cluster) -> redis.Redis:
    """A client of the primary the reachable Sentinels name now."""
    primary = cluster.current_primary()
    if primary is None:
        raise redis.ConnectionError("no Sentinel in reach names a primary")
    return cluster.data.node(primary)


def records(client: redis.Redis, ids: list[str]) -> dict[str, dict]:
    """FIELDS of each job's record ({} for one the store does not hold); `error` parsed."""
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(job_keys.record(job_id), *FIELDS)
    out = {}
    for job_id, values in zip(ids, pipe.execute()):
        record = {k: v for k, v in zip(FIELDS, values) if v is not None}
        if "error" in record:
            record["error"] = json.loads(record["error"]) or {}
        out[job_id] = record
    return out


def result_digest(client: redis.Redis, job_id: str) -> str | None:
    """A short digest of the job's stored result: equal digests, the same answer."""
    raw = client.hget(job_keys.record(job_id), "result")
    return None if raw is None else hashlib.sha256(raw.encode()).hexdigest()[:16]


def terminal(record: dict) -> bool:
    return record.get("status") in jobs.TERMINAL


def read(cluster: Cluster, ids: list[str]) -> dict[str, dict] | None:
    """`records` from the current primary; None while none answers (a failover under way)."""
    try:
        return records(store(cluster), ids)
    except redis.RedisError:
        return None


def wait_terminal(cluster: Cluster, ids: list[str], bound_s: float) -> dict[str, dict]:
    """The records once every one of `ids` is terminal, or as they are after `bound_s`."""
    seen: dict[str, dict] = {}

    def ended():
        now = read(cluster, ids)
        if now is not None:
            seen.update(now)
            return all(terminal(r) for r in now.values())
        return False

    try:
        procs.wait_until(ended, bound_s, interval=0.5, what=f"{len(ids)} job(s) to end")
    except TimeoutError:
        pass
    return seen


def account(found: dict[str, dict]) -> dict:
    """Succeeded, failed (by reason, a few samples) and lost (not terminal, or no record at all)."""
    reasons: dict[str, int] = {}
    samples: list[dict] = []
    lost = []
    for job_id, record in sorted(found.items()):
        if record.get("status") == jobs.FAILED:
            kind = record.get("error", {}).get("type", "unknown")
            reasons[kind] = reasons.get(kind, 0) + 1
            if len(samples) < 5:
                samples.append({"job_id": job_id, "kind": record.get("kind"), "type": kind,
                                "detail": str(record.get("error", {}).get("detail"))[:300]})
        elif not terminal(record):
            lost.append({"job_id": job_id, "status": record.get("status", "no record"), "kind": record.get("kind"),
                         "mode": record.get("mode")})
    succeeded = sum(1 for r in found.values() if r.get("status") == jobs.SUCCEEDED)
    return {"accepted": len(found), "succeeded": succeeded, "failed": sum(reasons.values()),
            "failed_by_reason": dict(sorted(reasons.items())), "failed_samples": samples, "lost": len(lost),
            "lost_jobs": lost[:20]}


#: The store's count of terminal updates applied (`job_keys.job_stats()`, written by the script
#: that ends a record, so an update refused on an ended record is not counted) and its job records
#: that have ended, read in one step: a job ending between two reads would skew the difference.
_TERMINAL_COUNTS = """
local updates = 0
for _, status in ipairs(ARGV) do updates = updates + tonumber(redis.call('HGET', KEYS[1], status) or '0') end
local records, cursor = 0, '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', KEYS[2] .. '*', 'COUNT', 1000)
  cursor = page[1]
  for _, name in ipairs(page[2]) do
    if not string.find(name, ':', #KEYS[2] + 1, true) then
      local status = redis.call('HGET', name, 'status')
      for _, ended in ipairs(ARGV) do if status == ended then records = records + 1 end end
    end
  end
until cursor == '0'
return {updates, records}
"""


def terminal_counts(client: redis.Redis) -> dict[str, int]:
    """Terminal updates applied and job records ended, at one instant: `updates - records` is the
    number of jobs ended more than once (must be 0)."""
    updates, ended = client.eval(_TERMINAL_COUNTS, 2, job_keys.job_stats(), job_keys.records_prefix(), *sorted(jobs.TERMINAL))
    return {"updates": int(updates), "records": int(ended)}


def holder(client: redis.Redis, job_id: str, task: str) -> tuple[str, str] | None:
    """(host, task id) of the worker whose pool process is executing `task` for `job_id` now (the
    running hash names the process once the task body starts), else None."""
    for task_id, raw in client.hgetall(running_key()).items():
        entry = json.loads(raw)
        if entry.get("job_id") == job_id and entry.get("task") == task and entry.get("process"):
            return entry["hostname"].split("@", 1)[-1], task_id
    return None


def completions(cluster: Cluster, hosts: list[str], task: str, task_id: str) -> dict[str, int]:
    """How many times each host's worker log says it finished `task` `task_id` (whatever the task
    returned: a run whose update was dropped as late finishes too)."""
    line = re.compile(rf"Task {re.escape(task)}\[{re.escape(task_id)}\] succeeded")
    return {host: len(line.findall(cluster.log_text(host))) for host in hosts}


def merges(cluster: Cluster, job_id: str) -> dict[str, int]:
    """A sharded job's merge callbacks, from the control hosts' logs: `merged` (it built the
    result), `dropped` (the job had already ended: admission refused it) and `failed` (a segment
    had failed). Celery logs each task's return value, and merge_tags returns the job id."""
    text = "\n".join(cluster.log_text(h.name) for h in cluster.by_role("control"))
    ran = re.findall(rf"Task tasks\.sharded\.merge_tags\[[^\]]+\] succeeded in [^:]+: (\{{'job_id': '{job_id}'[^\n]*)", text)
    return {"merged": sum("'segments'" in r for r in ran), "dropped": sum("'skipped'" in r for r in ran),
            "failed": sum("'failed'" in r for r in ran)}
