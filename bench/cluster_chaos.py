"""`make cluster-chaos` (as root): the cluster chaos run (devtools/chaos/cluster_run.py) on the
full-size cluster of hosts, its report (bench/results/cluster_chaos.json and .md) and the README's
table between the `cluster-chaos:start` / `cluster-chaos:end` markers. Exits 1 on a lost job, a job
ended twice, a 5xx other than a 503 with Retry-After inside a store fault, a fault that could not be
carried out, or a failed correctness check (a chord merged other than once, a record missing after
the old primary's return, a late answer that changed a record, a write the island's API
acknowledged); a missed timing target is reported, not an exit status (timings move with the
machine's load). `--island` adds fault f (the primary and an API host cut off together); `--faults
a,b`: a subset, no report; `--rewrite`: the report again from the json."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from bench.chaos import conclude, update_readme
from bench.report import RESULTS, write

START, END = "<!-- cluster-chaos:start -->", "<!-- cluster-chaos:end -->"
TITLE = "Faults on a cluster of hosts (`make cluster-chaos`)"
STORE_OUTAGE_S, API_OUTAGE_S = 15.0, 3.0


# --- what each fault must show -------------------------------------------------------------------------


def _failed(p: dict) -> int:
    return p["requests"]["write"]["failed"] + p["requests"]["read"]["failed"]


def _within(window: float | None, bound: float) -> bool:
    return window is not None and window <= bound


def _only_503s(side: dict) -> bool:
    return all(outcome.startswith("503") for outcome in side.get("failed_by", {}))


def _merged_once(job: dict) -> bool:
    return job.get("status") == "succeeded" and job.get("merges", {"merged": 1})["merged"] == 1


def _late_answer_dropped(p: dict) -> bool:
    elsewhere = not str(p.get("finished_on", "")).startswith(f"predict@{p.get('host')}:")
    return bool(p.get("running_there_when_cut") and p.get("status") == "succeeded" and elsewhere
                and p.get("late_answer_changed_nothing"))


def checks(p: dict) -> tuple[str, list[tuple[str, bool, bool]]]:
    """(target, [(check, passed, correctness)]) of one phase: a correctness check failing fails the
    run; a timing one is reported."""
    req, name = p["requests"], p["phase"]
    write, read = req["write"], req["read"]
    out = [("no 5xx but 503 + Retry-After", req["other_5xx"] == 0, True)]
    if name.startswith("a."):
        return f"writes: 503 + Retry-After for ≤ {STORE_OUTAGE_S:.0f} s, then served", out + [
            ("writes: 503s with Retry-After only, none unanswered", _only_503s(write) and not req["not_answered"], True),
            (f"writes served again within {STORE_OUTAGE_S:.0f} s", _within(write["window_s"], STORE_OUTAGE_S), False),
            ("the job across the failover ended once (a chord: one merge)", _merged_once(p.get("job_across_the_failover", {})), True)]
    if name.startswith("b."):
        kept = not p.get("missing_on_primary") and not p.get("missing_on_returned_node") and p.get("role") == "slave"
        return "rejoins as a replica; nothing accepted is lost", out + [
            ("every job accepted before on record", kept, True), ("0 failed requests", _failed(p) == 0, False)]
    if name.startswith("c."):
        return "0 failed requests; the job ends once", out + [
            ("0 failed requests", _failed(p) == 0, False),
            ("cut while running the job; it ended elsewhere; the late answer changed nothing", _late_answer_dropped(p), True)]
    if name.startswith("d."):
        quick = _within(write["window_s"], API_OUTAGE_S) and _within(read["window_s"], API_OUTAGE_S)
        return f"≤ {API_OUTAGE_S:.0f} s of failed requests", out + [(f"≤ {API_OUTAGE_S:.0f} s of failed requests", quick, False)]
    if name.startswith("e."):
        again = _merged_once(p.get("job", {})) and bool(p.get("lost_segment_ran_again_on"))
        return "the merge runs once; 0 failed requests", out + [
            ("the chord merged once; the lost segment ran again", again, True), ("0 failed requests", _failed(p) == 0, False)]
    if name.startswith("f."):
        island = p.get("island_api", {})
        return "the island takes no write; the majority serves", out + [
            ("the island's API acknowledged no write; its 5xx are 503 + Retry-After",
             not p.get("island_api_acknowledged") and island.get("other_5xx", 1) == 0, True),
            (f"writes through the load balancer served again within {STORE_OUTAGE_S:.0f} s",
             _within(write["window_s"], STORE_OUTAGE_S), False)]
    return "0 failed requests", out + [("0 failed requests", _failed(p) == 0, False)]


def phase_problems(p: dict) -> list[str]:
    """What fails the run in this phase."""
    problems = [f"{p['phase']}: {p['error']}"] if p.get("error") else []
    problems += [f"{p['phase']}: {name}" for name, ok, correctness in checks(p)[1] if correctness and not ok]
    if p["jobs"]["lost"]:
        problems.append(f"{p['phase']}: {p['jobs']['lost']} job(s) lost")
    if p["run_twice"] > 0:
        problems.append(f"{p['phase']}: {p['run_twice']} job(s) ended twice")
    return problems


def verdict(r: dict) -> list[str]:
    problems = [x for p in r["phases"] if p["phase"] != "drain" for x in phase_problems(p)]
    totals = ((r["lost"], "job(s) lost in all"), (r["run_twice"], "terminal update(s) beyond the records ended"),
              (r["server_errors"], "5xx that were not 503 + Retry-After inside a store fault"))
    return list(dict.fromkeys(problems + [f"{n} {what}" for n, what in totals if n]))


# --- the report ---------------------------------------------------------------------------------------------


def _requests(req: dict) -> str:
    answered = ", ".join(f"{s} x{n}" for s, n in req["answered"].items())
    missing = sum(req["not_answered"].values())
    return f"{req['sent']}: {answered}" + (f"; **{missing} not answered**" if missing else "; 0 not answered")


def _window(side: dict) -> str:
    if not side["failed"]:
        return "0"
    window = "still failing" if side["window_s"] is None else f"{side['window_s']} s"
    causes = ", ".join(f"{k} x{n}" for k, n in side.get("failed_by", {}).items())
    return f"{window} ({side['failed']} failed: {causes})"


def _jobs(p: dict) -> str:
    j = p["jobs"]
    reasons = "".join(f" ({', '.join(f'{k} {n}' for k, n in j['failed_by_reason'].items())})" if j["failed"] else "")
    return f"{j['accepted']} / {j['succeeded']} / {j['failed']}{reasons} / **{j['lost']}** / {p['run_twice']}"


def _merges(job: dict) -> str:
    merges = job.get("merges")
    return f"{job.get('status')}, merged {merges['merged']}x" if merges else str(job.get("status"))


def what_happened(p: dict) -> str:
    name = p["phase"]
    if name.startswith("a."):
        return (f"{p.get('old_primary')} lost; {p.get('new_primary')} promoted after {p.get('promoted_after_s')} s; the job across "
                f"the failover: {_merges(p.get('job_across_the_failover', {}))}")
    if name.startswith("b."):
        role = {"slave": "replica"}.get(p.get("role"), p.get("role"))  # Redis's INFO says slave
        return (f"back as a {role} of {p.get('primary')} after {p.get('rejoined_as_replica_after_s')} s; of "
                f"{p.get('jobs_accepted_before')} jobs accepted before, missing: {len(p.get('missing_on_primary', []))} on the "
                f"primary, {len(p.get('missing_on_returned_node', []))} on the returned node")
    if name.startswith("c."):
        runs = ", ".join(f"{h} {n}" for h, n in p.get("runs", {}).items())
        return (f"{p.get('host')} cut {p.get('partitioned_s')} s (heartbeat TTL 5 s) while running a job "
                f"({'yes' if p.get('running_there_when_cut') else 'NO'}); it ended {p.get('status')} on "
                f"{str(p.get('finished_on')).split(':')[0]}; runs to the end: {runs}; the late answer changed the record: "
                f"{'no' if p.get('late_answer_changed_nothing') else '**yes**'}")
    if name.startswith("d."):
        return (f"{p.get('host')} lost; HAProxy marked it down after {p.get('marked_down_after_s')} s; restored, back after "
                f"{p.get('back_in_rotation_after_s')} s")
    if name.startswith("e."):
        again = ", ".join(p.get("lost_segment_ran_again_on", {})) or "nowhere"
        return f"{p.get('host')} lost while running a segment; the job: {_merges(p.get('job', {}))}; that segment ran again on {again}"
    if name.startswith("f."):
        island = p.get("island_api", {})
        answers = ", ".join(f"{s} x{n}" for s, n in island.get("answered", {}).items())
        return (f"{' + '.join(p.get('island', []))} cut off together; {p.get('new_primary')} promoted after {p.get('promoted_after_s')} s; "
                f"the island's API: {island.get('sent', 0)} requests ({answers}), writes acknowledged "
                f"{len(p.get('island_api_acknowledged', []))}; the island's primary refuses writes: "
                f"{p.get('island_primary_refuses_writes')}")
    return "load only"


def result_cell(p: dict) -> str:
    target, found = checks(p)
    failed = [name for name, ok, _ in found if not ok]
    failed += [f"{n} job(s) {what}" for n, what in ((p["jobs"]["lost"], "lost"), (p["run_twice"], "ended twice")) if n]
    if p.get("error"):
        failed.insert(0, p["error"])
    return f"{target}: " + ("**pass**" if not failed else "**FAIL** (" + "; ".join(failed) + ")")


def fault_table(r: dict) -> str:
    lines = ["| fault | requests sent: answered | outage, writes | outage, reads | jobs accepted / succeeded / failed / **lost** "
             "/ run twice | what happened | target: result |", "|---|---|---|---|---|---|---|"]
    for p in r["phases"]:
        if p["phase"] == "drain":
            continue
        req = p["requests"]
        lines.append(f"| {p['phase']} | {_requests(req)} | {_window(req['write'])} | {_window(req['read'])} | {_jobs(p)} | "
                     f"{what_happened(p)} | {result_cell(p)} |")
    return "\n".join(lines)


def rows(r: dict) -> list[tuple[str, str, str]]:
    return [
        ("faults injected", str(r["faults_injected"]), ", ".join(f"{f['kind']} {f['target']}" for f in r["faults"])),
        ("requests sent", str(r["requests"]), "answered: " + ", ".join(f"{s} x{n}" for s, n in sorted(r["http_statuses"].items()))),
        ("jobs accepted", str(r["accepted"]), "every 202 (and 200: a hotel price answered at once) of the run"),
        ("succeeded / failed with a reason", f"{r['succeeded']} / {r['failed']}",
         ", ".join(f"{k} {n}" for k, n in r["failed_by_reason"].items()) or "-"),
        ("**lost**", f"**{r['lost']}**", f"must be 0: accepted and not ended {r['drain_bound_s']:.0f} s after the last fault"),
        ("**run twice**", f"**{r['run_twice']}**", f"must be 0: terminal updates applied ({r['terminal_updates']}) less job records "
         f"ended ({r['terminal_records']}), read in one step"),
        ("**5xx other than 503 + Retry-After in a store fault**", f"**{r['server_errors']}**",
         f"must be 0; besides, {r['expected_503_during_store_faults']} 503s with Retry-After while the store failed over (by design)"),
    ]


def notes(r: dict, problems: list[str]) -> str:
    size = ", ".join(f"{n} {role}" for role, n in r["size"].items())
    load = r["load"]
    return (f"{fault_table(r)}\n\nAll rows from one run ({r['wall_s']:.0f} s wall, {r['cpus']} CPUs, load average "
            f"{r['load_avg_start'][0]} at the start, {r['load_avg_end'][0]} at the end: other work shared the machine), "
            f"`make cluster-chaos`: hosts {size}; {load['clients']} clients through HAProxy, {load['pause_s']} s between "
            f"requests, each with a {30} s timeout, the mix {'/'.join(r['mix'])}; the synthetic tagger. Outage: from the first "
            "failed request to the first good answer after the last one, by send time. Details: `bench/results/cluster_chaos.json`."
            + (f" **Not clean: {'; '.join(problems)}.**" if problems else ""))


def publish(r: dict) -> Path:
    md = write("cluster_chaos", r, rows(r), TITLE, notes(r, verdict(r)))
    update_readme(md.read_text(), START, END)
    return md


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", default="", help="comma-separated subset of " + ",".join(_steps()) + " (no report)")
    parser.add_argument("--island", action="store_true", help="add fault f, the primary and an API host cut off together")
    parser.add_argument("--rewrite", action="store_true", help="rebuild cluster_chaos.md and the README table from the json")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs) even when it is clean")
    args = parser.parse_args(argv)
    if args.rewrite:
        publish(json.loads((RESULTS / "cluster_chaos.json").read_text()))
        return 0

    from devtools.chaos import cluster_run
    from devtools.cluster import net

    scale = cluster_run.FULL
    if args.faults or args.island:
        faults = tuple(args.faults.split(",")) if args.faults else scale.faults
        scale = dataclasses.replace(scale, faults=faults + (("island",) if args.island and "island" not in faults else ()))
    try:
        r = cluster_run.run(scale)
    except net.NetUnavailable as exc:
        print(f"make cluster-chaos: {exc}", file=sys.stderr)
        return 2
    problems = verdict(r)
    print(json.dumps({k: v for k, v in r.items() if k not in ("phases", "faults")}, indent=1, default=str))
    if not args.faults:
        print(f"wrote {publish(r)} and {RESULTS / 'cluster_chaos.json'}")
    return conclude("cluster-chaos", r, problems, args.keep)


def _steps() -> list[str]:
    from devtools.chaos.cluster_faults import STEPS

    return list(STEPS)


if __name__ == "__main__":
    sys.exit(main())
