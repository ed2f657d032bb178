"""The cluster chaos run (`make cluster-chaos`, tests/test_cluster_smoke.py): a cluster of hosts
(devtools/cluster/), a steady load through its load balancer (cluster_load.py), faults injected
one after another on real hosts (cluster_faults.py), then a bounded drain in which every job the
API accepted must end. The result is one dict: what each fault did to the clients (outage.py) and
to the jobs (cluster_jobs.py), and the totals."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from devtools import procs
from devtools.chaos import cluster_faults, cluster_jobs, outage
from devtools.chaos.clips import clip, looped
from devtools.chaos.cluster_load import MIX, READ, WRITE, Load, LoadShape, submit_accepted
from devtools.chaos.ledger import Ledger, retry_later
from devtools.cluster import SIZES, Cluster, Size

#: The API and workers of the run, whatever the caller's environment holds (the test suite's has
#: a smaller upload limit and no reconciler): the synthetic tagger (fast, so a fault meets many
#: jobs), no rate limit on the load's keyless clients, room for the 30-minute clips.
ENV = {"TAGGER_MODEL": "synth-tagger", "RATE_LIMIT_ANONYMOUS": "1000000/hour;100000/minute",
       "MAX_UPLOAD_BYTES": str(64 * 1024 * 1024), "MAX_VIDEO_SECONDS": "7200", "RECONCILE_INTERVAL_S": "10"}
LONG_BASE_S, LONG_TIMES = 10.0, 180  # a job a fault must catch running: 30 min of video, ~5-10 s of work


@dataclass(frozen=True)
class Scale:
    size: Size
    load: LoadShape
    faults: tuple[str, ...]
    mix: tuple[str, ...] = MIX
    baseline_s: float = 10.0  # load with no fault, before the first
    settle_s: float = 5.0  # load with no fault after each one (its requests count in its phase)
    api_down_s: float = 8.0
    island_s: float = 15.0  # past min-replicas-max-lag (5 s): the island's primary refuses writes by then
    drain_s: float = 180.0


#: `make cluster-chaos`: every fault but the island (f), which `--island` adds: the old primary, back
#: from it, can strand a segment's message in the broker's unacked index, which only the job's
#: deadline ends (docs/ARCHITECTURE.md, "More than one host").
FULL = Scale(SIZES["full"], LoadShape(clients=4, max_requests=8000, bound_s=540.0),
             tuple(name for name in cluster_faults.STEPS if name != "island"))
#: CI: the least cluster that has a failover and a redelivery to show (2 predict hosts: the
#: partitioned one's job must finish on the other), videos and reads only.
SMOKE = Scale(Size(api=2, predict=2, shard=0, control=0, events=0), LoadShape(clients=3, max_requests=2000, bound_s=150.0),
              ("primary_lost", "worker_partitioned"), mix=("video", "read", "read"), baseline_s=5.0, settle_s=3.0,
              drain_s=90.0)


class ClusterRun:
    """One run: its cluster (in `root`), the ledger every request goes through, the load, and what
    the faults need of them (cluster_faults.py takes this object)."""

    def __init__(self, root: Path, scale: Scale = FULL, log=print):
        self.root, self.scale, self.log = root, scale, log
        self.cluster = Cluster(root, scale.size, env=ENV, api_workers=1)
        self.ledger = Ledger(expected_503=retry_later)
        self.clips = root / "clips"
        self.state: dict = {}  # what one fault leaves for the next (the lost primary's host)
        self.counts: list[dict] = []  # terminal updates and terminal records at each phase's end
        self.load: Load | None = None
        self.paths: dict[str, Path] = {}  # the load's clips

    # --- what the faults use ----------------------------------------------------------------------

    def phase(self, name: str) -> dict:
        """Start phase `name`: the requests sent from now on count in it."""
        if self.ledger.phase != "setup":
            self.counts.append({"phase": self.ledger.phase, **self.terminal_counts()})
        self.ledger.phase = name
        self.log(f"[cluster-chaos] === {name} ===")
        return self.ledger.record(name, started_s=round(time.time() - self.ledger.started, 1))

    def long_clip(self, name: str, seed: int) -> Path:
        return looped(self.clips, name, seed, LONG_BASE_S, LONG_TIMES)

    def submit(self, path: Path, *, sharded: bool = False) -> str:
        return submit_accepted(self.ledger, self.cluster.lb_url, path, sharded=sharded)

    def host_of(self, ip: str) -> str:
        return next(h.name for h in self.cluster.hosts.values() if h.ip == ip)

    def has(self, role: str) -> bool:
        return bool(self.cluster.by_role(role))

    def since(self, t: float) -> float:
        return round(time.time() - t, 2)

    def wait_served(self, kind: str, since: float, bound_s: float = 60.0, quiet_s: float = 3.0) -> float:
        """Seconds from `since` (a time.time()) until requests of `kind` are served again: a good
        answer to one sent after the last that failed, and `quiet_s` with no failure since."""
        start = since - self.ledger.started

        def served():
            mine = [a for a in list(self.ledger.answers) if a["kind"] == kind and a["t"] >= start]
            last_failed = max((a["t"] for a in mine if not outage.good(a)), default=start)
            later = [a["t"] + a["took"] for a in mine if outage.good(a) and a["t"] > last_failed]
            now = time.time() - self.ledger.started
            return min(later) - start if later and now - last_failed >= quiet_s else None

        return round(procs.wait_until(served, bound_s, interval=0.2, what=f"{kind}s served again"), 2)

    def follow(self, job_id: str, bound_s: float = 180.0) -> dict:
        """The job once ended (or as it is after `bound_s`): status, reason, where it finished and,
        for a sharded one, its merges."""
        record = cluster_jobs.wait_terminal(self.cluster, [job_id], bound_s).get(job_id, {})
        out = {"job_id": job_id, "status": record.get("status", "no record"), "worker": record.get("worker")}
        if record.get("error"):
            out["error"] = record["error"].get("type")
        if record.get("mode") == "sharded":
            out["merges"] = cluster_jobs.merges(self.cluster, job_id)
        return out

    def terminal_counts(self) -> dict:
        return cluster_jobs.terminal_counts(cluster_jobs.store(self.cluster))

    # --- the run --------------------------------------------------------------------------------------

    def start(self) -> None:
        started = time.time()
        self.cluster.start()
        self.paths = {"video": clip(self.clips, "video", seed=5, duration_s=6.0)}
        if "sharded" in self.scale.mix:
            self.paths["sharded"] = clip(self.clips, "sharded", seed=6, duration_s=40.0)
        self.cluster.wait_ready()
        self.ledger.record("setup", cluster_ready_s=self.since(started), hosts=[list(row) for row in self.cluster.table()])
        self.load = Load(self.cluster.lb_url, self.ledger, self.paths, self.scale.load, self.scale.mix)

    def faults(self) -> None:
        self.phase("baseline (no fault)")
        self.load.start()
        time.sleep(self.scale.baseline_s)
        for name in self.scale.faults:
            try:
                cluster_faults.STEPS[name](self)
            except Exception as exc:  # recorded (a failed check of the run), the hosts put back, the run goes on
                self.log(f"[cluster-chaos] {name} failed: {exc.__class__.__name__}: {exc}")
                self.ledger.record(self.ledger.phase, error=f"{exc.__class__.__name__}: {exc}")
                self.repair()
            time.sleep(self.scale.settle_s)

    def repair(self) -> None:
        """Every host a failed step left lost or cut off, back."""
        for host in sorted(self.cluster.lost):
            self.cluster.restore_host(host)
        for host in sorted(self.cluster.cut):
            self.cluster.heal(host)
        self.cluster.wait_ready()

    def drain(self) -> dict:
        """Load stopped; every job the API accepted must end within `drain_s`."""
        self.phase("drain")
        self.load.stop()
        ids = self.ledger.accepted_jobs()
        found = cluster_jobs.wait_terminal(self.cluster, ids, self.scale.drain_s)
        self.counts.append({"phase": "drain", **self.terminal_counts()})
        return found

    def stop(self) -> None:
        if self.load is not None:
            self.load.stop()
        self.cluster.stop()


def per_phase(run: ClusterRun, found: dict[str, dict]) -> list[dict]:
    """Each phase: what the clients saw, the jobs accepted in it and how they ended, and the
    terminal updates applied in it beyond the records that ended in it (run twice: must be 0)."""
    out, previous = [], {"updates": 0, "records": 0}
    counts = {c["phase"]: c for c in run.counts}
    for name, record in run.ledger.phases.items():
        if name == "setup":
            continue
        ids = [a["job_id"] for a in run.ledger.answers if a["phase"] == name and a["job_id"]]
        now = counts.get(name, previous)
        out.append({"phase": name, **record, "requests": outage.summary(run.ledger.answers, name, (WRITE, READ)),
                    "jobs": cluster_jobs.account({i: found.get(i, {}) for i in ids}),
                    "run_twice": (now["updates"] - previous["updates"]) - (now["records"] - previous["records"])})
        previous = now
    return out


def run(scale: Scale = FULL, root: Path | None = None, log=print) -> dict:
    """The whole run; the cluster is stopped (namespaces and processes removed) whatever happens."""
    root = root or Path(os.environ.get("TMPDIR", "/tmp")) / f"brigade-cluster-chaos-{os.getpid()}"
    chaos = ClusterRun(root, scale, log)
    started, load = time.time(), os.getloadavg()
    try:
        chaos.start()
        chaos.faults()
        found = chaos.drain()
        loads = {"load_avg_start": [round(x, 2) for x in load], "load_avg_end": [round(x, 2) for x in os.getloadavg()]}
    finally:
        chaos.stop()
    totals = cluster_jobs.account(found)
    last = chaos.counts[-1]
    ledger = chaos.ledger
    result = {
        "wall_s": round(time.time() - started, 1), "cpus": os.cpu_count(), **loads,
        "size": asdict(scale.size), "load": asdict(scale.load), "mix": list(scale.mix),
        "faults_injected": len(ledger.faults), "faults": ledger.faults, **totals, "drain_bound_s": scale.drain_s,
        "terminal_updates": last["updates"], "terminal_records": last["records"],
        "run_twice": last["updates"] - last["records"],
        "server_errors": len(ledger.server_errors), "server_error_samples": ledger.server_errors[:20],
        "expected_503_during_store_faults": ledger.expected_503,
        "requests": len(ledger.answers), "http_statuses": {str(k): v for k, v in ledger.statuses.items()},
        "phases": per_phase(chaos, found), "logs": str(root / "logs"),
    }
    (root / "result.json").write_text(json.dumps(result, indent=1, default=str))
    return result
