"""The cluster chaos run (`make cluster-chaos`, devtools/chaos/cluster_run.py) in small, for CI: 3 Redis
hosts with Sentinel, HAProxy, 2 API hosts and 2 predict hosts, each a network namespace, under a
steady load of videos and job reads through HAProxy. The Redis primary's host is lost with a job in
progress (a failover), then a predict host is cut off past the heartbeat TTL while it runs a job, and
healed. Nothing accepted is lost or ended twice, every job accepted before, during and after
succeeds, and the only 5xx are 503s with Retry-After while the store fails over. Timings are
printed, not asserted (they move with the machine's load).

Needs root (namespaces, a bridge): where it cannot make them it fails saying why, it never skips
(CI runs as root). The run stops every process and removes every namespace it made, also when it
fails. The in-process checks (`unit`) need nothing.
"""

from __future__ import annotations

import json

import pytest

from devtools.chaos import cluster_run, outage
from devtools.cluster import net


def test_a_failover_and_a_partition_lose_nothing(tmp_path):
    try:
        result = cluster_run.run(cluster_run.SMOKE, tmp_path / "run")
    except net.NetUnavailable as exc:
        pytest.fail(f"the cluster harness cannot run here: {exc}")
    assert not net.namespaces() or not any(ns.startswith(net.PREFIX) for ns in net.namespaces())
    phases = {p["phase"].split(" ")[0]: p for p in result["phases"]}
    print(json.dumps({name: {k: v for k, v in p.items() if k not in ("jobs",)} for name, p in phases.items()}, indent=1))

    assert [p.get("error") for p in phases.values() if p.get("error")] == []
    assert result["lost"] == 0, result["lost_jobs"]
    assert result["run_twice"] == 0
    assert result["server_errors"] == 0, result["server_error_samples"]
    for name in ("baseline", "a.", "c."):  # before, during and after the failover
        jobs = phases[name]["jobs"]
        assert jobs["accepted"] > 0 and jobs["succeeded"] == jobs["accepted"], (name, jobs)

    failover = phases["a."]
    assert failover["new_primary"] != failover["old_primary"]
    assert failover["job_across_the_failover"]["status"] == "succeeded"
    refused = failover["requests"]["write"]
    assert refused["failed"] > 0, "the store was away for seconds: some write must have met it"
    assert all(kind.startswith("503") for kind in refused["failed_by"]), refused
    assert failover["requests"]["other_5xx"] == 0 and not failover["requests"]["not_answered"]

    cut = phases["c."]
    assert cut["running_there_when_cut"], "the partitioned host was running the job when it was cut off"
    assert cut["status"] == "succeeded" and not cut["finished_on"].startswith(f"predict@{cut['host']}:")
    assert cut["runs"][cut["host"]] == 1, "the cut-off worker ran its copy to the end too"
    assert cut["late_answer_changed_nothing"]
    assert outage.summary([], "none")["sent"] == 0


# --- in-process checks ---------------------------------------------------------------------------


def _answer(t: float, status: int | None, took: float = 0.01, kind: str = "write", phase: str = "x") -> dict:
    return {"phase": phase, "kind": kind, "t": t, "took": took, "status": status, "error": None if status else "ReadTimeout",
            "retry_after": "5" if status == 503 else None, "problem": "store-unavailable" if status == 503 else None}


@pytest.mark.unit
def test_the_outage_window_runs_from_the_first_failure_to_the_first_good_answer_after_the_last():
    answers = [_answer(1.0, 202), _answer(2.0, 503), _answer(2.5, 202), _answer(3.0, 503), _answer(4.0, 202, took=0.5),
               _answer(5.0, 202)]
    window = outage.window(answers)
    assert window["failed"] == 2 and window["window_s"] == 2.5  # 2.0 -> 4.5
    assert window["failed_by"] == {"503 store-unavailable": 2}
    assert outage.window([_answer(1.0, 202)])["window_s"] == 0.0
    assert outage.window([_answer(1.0, 202), _answer(2.0, None)])["window_s"] is None  # still failing at the end


@pytest.mark.unit
def test_a_request_that_hung_counts_at_its_send_time():
    answers = [_answer(1.0, None, took=30.0), _answer(1.2, 200, kind="read"), _answer(1.5, 202)]
    summary = outage.summary(answers, "x")
    assert summary["write"]["window_s"] == 0.51 and summary["worst_wait_s"] == 30.0
    assert summary["not_answered"] == {"ReadTimeout": 1} and summary["read"]["failed"] == 0
