"""The faults of the cluster chaos run, one function each, run in STEPS' order while the load goes
on (cluster_run.py). Each injects its fault on a real host of the cluster, waits (bounded) for the
cluster to ride it out, and records what it checked in its phase's record.

The jobs a fault must catch running (a chord across the failover, a predict job on the host that
is cut off, a segment on the shard host that is lost) are 30-minute videos (clips.looped): found
running in the workers' `running` hash, so the fault provably met them. Their seeds are ones whose
30 minutes take 13-16 MB (a noisy scene takes ten times that).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import redis

from brigade.redis_client import key
from devtools import procs
from devtools.chaos import cluster_jobs, outage
from devtools.chaos.cluster_jobs import holder, store
from devtools.chaos.cluster_load import READ, WRITE, Load, LoadShape
from devtools.chaos.ledger import Ledger, retry_later
from devtools.cluster.cluster import API_PORT

if TYPE_CHECKING:
    from devtools.chaos.cluster_run import ClusterRun

TAG_VIDEO, TAG_SEGMENT = "tasks.predict.tag_video", "tasks.sharded.tag_segment"
FOUND_S = 60.0  # a submitted job found running within this
FAILOVER_S = 60.0
HEAL_S = 120.0


def running_on(run: ClusterRun, job_id: str, task: str) -> tuple[str, str]:
    """(host, task id) of the worker executing `task` of `job_id`, once one is."""
    return procs.wait_until(lambda: _holder(run, job_id, task), FOUND_S, interval=0.05,
                            what=f"{task} of job {job_id} running")


def _holder(run: ClusterRun, job_id: str, task: str) -> tuple[str, str] | None:
    try:
        return holder(store(run.cluster), job_id, task)
    except Exception:  # a node going away under the read: look again
        return None


def spanning_job(run: ClusterRun, seed: int) -> tuple[str, str]:
    """A job in progress: a chord (its segments running) where the cluster has shard hosts, else a
    long single job. (job id, host running a part of it)."""
    sharded = run.has("shard")
    job_id = run.submit(run.long_clip(f"span-{seed}", seed), sharded=sharded)
    host, _ = running_on(run, job_id, TAG_SEGMENT if sharded else TAG_VIDEO)
    return job_id, host


def primary_lost(run: ClusterRun) -> None:
    """a. The Redis primary's host lost (cable out, SIGKILL) with a job in progress: the Sentinels
    promote a replica; writes get 503s with Retry-After meanwhile, then are served; the job ends
    once (a chord: one merge)."""
    rec = run.phase("a. Redis primary's host lost")
    job_id, _ = spanning_job(run, seed=17)
    old = run.cluster.current_primary()
    host = run.host_of(old)
    with run.ledger.redis_fault():
        t0 = lose(run, host, "Redis primary and its Sentinel", job_in_progress=job_id)
        new = procs.wait_until(lambda: (p := run.cluster.current_primary()) not in (None, old) and p, FAILOVER_S, 0.2,
                               what="a Sentinel to promote a replica")
        rec.update(old_primary=host, new_primary=run.host_of(new), promoted_after_s=run.since(t0))
        rec["writes_served_after_s"] = run.wait_served(WRITE, t0, FAILOVER_S)
        rec["reads_served_after_s"] = run.wait_served(READ, t0, FAILOVER_S)
    run.state["lost_primary"] = (host, old)
    rec["job_across_the_failover"] = run.follow(job_id)


def primary_back(run: ClusterRun) -> None:
    """b. The old primary's host back: it rejoins as a replica of the new primary, and every job
    accepted before is on record (on the primary, and on the returned node once synced)."""
    rec = run.phase("b. old primary's host back")
    host, ip = run.state["lost_primary"]
    accepted = run.ledger.accepted_jobs()
    primary = run.cluster.current_primary()
    rejoined = restore(run, host, "old Redis primary", lambda bound: procs.wait_until(
        lambda: run.cluster.data.replicates(ip, primary), bound, 0.5, what=f"{host} to replicate {primary}"))
    rec.update(rejoined_as_replica_after_s=rejoined, primary=run.host_of(primary),
               role=(run.cluster.data.replication(ip) or {}).get("role"))
    on_primary = cluster_jobs.records(store(run.cluster), accepted)
    on_returned = cluster_jobs.records(run.cluster.data.node(ip), accepted)
    rec.update(jobs_accepted_before=len(accepted), missing_on_primary=sorted(i for i, r in on_primary.items() if not r),
               missing_on_returned_node=sorted(i for i, r in on_returned.items() if not r))


def worker_partitioned(run: ClusterRun) -> None:
    """c. A predict host cut off while it runs a job, past the heartbeat TTL: the job is redelivered
    and finishes on another host; healed, the cut-off worker finishes its run too, and its late
    answer changes nothing (same status, result and finish time; one terminal update)."""
    rec = run.phase("c. predict host partitioned")
    job_id = run.submit(run.long_clip("partition", seed=31))
    host, _ = running_on(run, job_id, TAG_VIDEO)
    ttl = float(run.cluster.app_env()["HEARTBEAT_TTL_S"])
    t0 = time.time()
    run.cluster.partition(host)
    run.ledger.fault("partitioned (cable out)", host, job=job_id)
    cut = cluster_jobs.records(store(run.cluster), [job_id])[job_id]
    rec.update(host=host, job_id=job_id, running_there_when_cut=cut.get("status") == "running"
               and str(cut.get("worker", "")).startswith(f"predict@{host}:"))

    def ended_elsewhere():
        record = (cluster_jobs.read(run.cluster, [job_id]) or {}).get(job_id, {})
        return record if cluster_jobs.terminal(record) and time.time() - t0 > ttl + 2 else None

    ended = procs.wait_until(ended_elsewhere, HEAL_S, 0.5, what=f"job {job_id} to end on another host")
    digest = cluster_jobs.result_digest(store(run.cluster), job_id)
    rec.update(ended_after_s=run.since(t0), status=ended["status"], finished_on=ended.get("worker"))
    run.cluster.heal(host)
    run.ledger.fault("healed", host, partitioned_s=run.since(t0))
    predict_hosts = [h.name for h in run.cluster.by_role("predict")]
    procs.wait_until(lambda: cluster_jobs.completions(run.cluster, [host], TAG_VIDEO, job_id)[host], HEAL_S, 0.5,
                     what=f"the cut-off worker on {host} to finish its run of {job_id}")
    after = cluster_jobs.records(store(run.cluster), [job_id])[job_id]
    rec.update(partitioned_s=round(time.time() - t0, 1), runs=cluster_jobs.completions(run.cluster, predict_hosts, TAG_VIDEO, job_id),
               late_answer_changed_nothing=(after.get("status"), after.get("worker"), after.get("finished_at"))
               == (ended["status"], ended.get("worker"), ended.get("finished_at"))
               and cluster_jobs.result_digest(store(run.cluster), job_id) == digest)


def lose(run: ClusterRun, host: str, role: str, **details) -> float:
    """`host` lost (cable out, every process SIGKILLed); when."""
    t0 = time.time()
    run.cluster.lose_host(host)
    run.ledger.fault("host lost (cable out + SIGKILL)", host, role=role, **details)
    return t0


def restore(run: ClusterRun, host: str, role: str, back) -> float:
    """`host` restored, then `back(HEAL_S)` (the cluster's wait for it); the seconds it took."""
    t1 = time.time()
    run.cluster.restore_host(host)
    run.ledger.fault("host restored", host, role=role)
    back(HEAL_S)
    return run.since(t1)


def api_lost(run: ClusterRun) -> None:
    """d. An API host lost: HAProxy's checks take it out and the load goes to the others; restored,
    it is taken back."""
    rec = run.phase("d. API host lost")
    host = run.cluster.by_role("api")[0].name
    t0 = lose(run, host, "API")
    procs.wait_until(lambda: run.cluster.lb_servers()[host]["status"].startswith("DOWN"), 30, 0.1,
                     what=f"HAProxy to mark {host} down")
    rec.update(host=host, marked_down_after_s=run.since(t0))
    time.sleep(max(0.0, run.scale.api_down_s - (time.time() - t0)))
    rec["back_in_rotation_after_s"] = restore(run, host, "API", run.cluster.wait_lb)


def shard_lost(run: ClusterRun) -> None:
    """e. A shard host lost while it runs a segment of a chord: the reaper sends the segment again,
    another shard host runs it, and the merge runs once."""
    rec = run.phase("e. shard host lost mid-chord")
    job_id = run.submit(run.long_clip("chord-e", seed=39), sharded=True)
    host, task_id = running_on(run, job_id, TAG_SEGMENT)
    t0 = lose(run, host, "shard", job=job_id, segment_task=task_id)
    rec.update(host=host, job=run.follow(job_id), ended_after_s=run.since(t0))
    others = [h.name for h in run.cluster.by_role("shard") if h.name != host]
    rec["lost_segment_ran_again_on"] = {h: n for h, n in cluster_jobs.completions(run.cluster, others, TAG_SEGMENT, task_id).items() if n}
    rec["ready_again_after_s"] = restore(run, host, "shard", run.cluster.wait_ready)


def island(run: ClusterRun) -> None:
    """f. The Redis primary's host and an API host cut off together (a 2-host island): the majority
    promotes a replica and the load balancer's side is served again; the island's API takes no
    write (within min-replicas-max-lag its WAIT finds no replica, after it its primary answers
    NOREPLICAS: 503s with Retry-After), so nothing it acknowledged can be lost at the heal."""
    rec = run.phase("f. primary + API host cut off together")
    old = run.cluster.current_primary()
    redis_host, api = run.host_of(old), run.cluster.by_role("api")[0]
    islanders = Ledger(expected_503=retry_later)
    islanders.phase = run.ledger.phase
    client = Load(f"http://{api.ip}:{API_PORT}", islanders, {"video": run.paths["video"]},
                  LoadShape(clients=1, bound_s=run.scale.island_s + 30), mix=("video", "read"), reads_of=run.ledger)
    t0 = time.time()
    with run.ledger.redis_fault(), islanders.redis_fault():
        run.cluster.island([redis_host, api.name])
        run.ledger.fault("cut off together (an island)", f"{redis_host} + {api.name}", roles="Redis primary, API")
        client.start()
        new = procs.wait_until(lambda: (p := run.cluster.current_primary()) not in (None, old) and p, FAILOVER_S, 0.2,
                               what="the majority's Sentinels to promote a replica")
        rec.update(island=[redis_host, api.name], new_primary=run.host_of(new), promoted_after_s=run.since(t0))
        rec["writes_served_after_s"] = run.wait_served(WRITE, t0, FAILOVER_S)
        time.sleep(max(0.0, run.scale.island_s - (time.time() - t0)))
        rec["island_primary_refuses_writes"] = _refuses_writes(run.cluster.data.node(old))
        client.stop()
        run.cluster.heal_island()
        run.ledger.fault("island healed", f"{redis_host} + {api.name}", cut_off_s=run.since(t0))
        run.cluster.wait_data(new, timeout=HEAL_S)
        run.cluster.wait_lb(HEAL_S)
    rec.update(healed_and_synced_after_s=run.since(t0), island_api=outage.summary(islanders.answers, islanders.phase),
               island_api_acknowledged=islanders.accepted_jobs())
    run.ledger.merge(islanders)


def _refuses_writes(node) -> str:
    try:
        node.set(key("chaos", "island-probe"), "1")
    except redis.RedisError as exc:
        return f"yes ({exc.__class__.__name__})"
    return "no: it took a write"


STEPS = {"primary_lost": primary_lost, "primary_back": primary_back, "worker_partitioned": worker_partitioned,
         "api_lost": api_lost, "shard_lost": shard_lost, "island": island}
