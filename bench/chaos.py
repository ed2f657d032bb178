"""`make chaos`: run the chaos and abuse suite (devtools/chaos/) end to end and write its report,
bench/results/chaos.json and chaos.md, and the README's "Chaos and abuse" table (between the
`chaos:start` / `chaos:end` markers). Exits 1 when a job was lost, a 5xx was seen or a hostile
input got another answer than a 4xx problem. `--tiny`: counts of 1-5, no report written."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from bench.report import RESULTS, write
from devtools.readme import replace_between

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- chaos:start -->", "<!-- chaos:end -->"


def rows(r: dict) -> list[tuple[str, str, str]]:
    kinds: dict[str, int] = {}
    for f in r["faults"]:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    phases = r["phases"]
    p3 = phases.get("3 time limits", {}).get("outcomes", {})
    p4 = phases.get("4 poison message", {})
    slow = phases.get("7 slow clients", {})
    fuzz = phases.get("6 OpenAPI fuzzing (schemathesis)", {})
    limit_cells = "; ".join(f"{k}: {v['status_30s_after']} ({(v.get('error') or {}).get('type', '-')})" for k, v in p3.items())
    return [
        ("faults injected", str(r["faults_injected"]), ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items()))),
        ("jobs accepted", str(r["jobs_accepted"]), "every job record in the run's Redis (videos, sharded, hotel prices, echo, fuzz)"),
        ("succeeded", str(r["succeeded"]), ""),
        ("failed with a reason", str(r["failed"]), ", ".join(f"{k} {n}" for k, n in r["failed_by_reason"].items()) or "-"),
        ("**lost**", f"**{r['lost']}**", f"must be 0: not terminal {r['drain_bound_s']:.0f} s after the last phase"),
        ("time limits", limit_cells or "-", "soft 2 s / hard 5 s on one worker; its ffmpeg, then its pool process, SIGSTOPped"),
        ("poison message", f"{p4.get('status')} ({(p4.get('error') or {}).get('type', '-')})",
         f"pool process SIGKILLed at each start: {p4.get('kills', 0)} kills, MAX_TASK_ATTEMPTS=2"),
        ("hostile inputs tried", str(r["hostile_tried"]),
         "answers: " + ", ".join(f"{s} x{n}" for s, n in r["hostile_refused_by_status"].items())),
        ("hostile inputs answered otherwise than expected", str(len(r["hostile_unexpected"])), "expected: a 4xx problem+json, "
         "or a 202 whose job then fails for the three valid on their face (frames that grow past the header, a corrupt "
         "middle, a real mp4 named x.m3u8: that one succeeds); 414 from gunicorn for a 4 KB URL"),
        ("fuzz cases run (schemathesis)", str(r.get("fuzz_cases") or "?"),
         f"{fuzz.get('operations', '?')} operations; checks: no 5xx, documented status, content type, response "
         "schema and headers; failing: " + (", ".join(f"{f['operation']} {f['check']}" for f in r["fuzz_failures"]) or "none")),
        ("**5xx seen**", f"**{r['server_errors']}**", f"must be 0; besides, {r['expected_503_during_redis_faults']} "
         "503 store-unavailable while Redis was stopped or down (by design)"),
        ("worst /healthz under slow clients", _worst(slow), _windows(slow)),
    ]


def _worst(slow: dict) -> str:
    if not slow:
        return "-"
    timeouts = slow.get("healthz_timeouts") or 0
    return f"{slow['healthz_worst_ms']} ms" + (f" ({timeouts} samples timed out at 5 s)" if timeouts else "")


def _windows(slow: dict) -> str:
    if not slow:
        return "not run"
    cells = []
    for name, w in slow["windows"].items():
        h = w["healthz"]
        cells.append(f"{name}: p50 {h['p50_ms']} / worst {h['worst_ms']} ms, {h['timeouts']}/{h['samples']} timed out")
    return (f"{slow['long_polls']} `?wait=` long-polls on a queued job, {slow['dribblers']} clients sending headers a byte per "
            f"0.2 s (reconnecting when dropped); {slow['seconds_per_window']:.0f} s per window; "
            f"idle p50 {slow['healthz_idle_p50_ms']} ms; " + "; ".join(cells))


def update_readme(table_md: str, start: str = START, end: str = END) -> None:
    try:
        replace_between(README, start, end, table_md)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc


def conclude(name: str, r: dict, problems: list[str], keep: bool) -> int:
    """A chaos run's exit status: 1 with its problems said (its logs kept), else 0 (its run folder
    removed unless `keep`)."""
    if problems:
        print(f"{name}: " + "; ".join(problems) + f" (logs: {r['logs']})", file=sys.stderr)
        return 1
    if not keep:
        shutil.rmtree(Path(r["logs"]).parent, ignore_errors=True)
    return 0


TITLE = "Chaos and abuse (`make chaos`)"


def notes(r: dict, problems: list[str]) -> str:
    return (f"All rows from one run ({r['wall_s']:.0f} s wall, {r['cpus']} CPUs, load average {r['load_avg_start']} at "
            "the start), `make chaos`: a private Redis with AOF on, 2 predict replicas, 2 shard workers, the control "
            "worker, the events pool (1..3), the API (2 gunicorn processes, 16 threads each), the synthetic tagger, "
            "generated clips. Details of every phase and fault: `bench/results/chaos.json`."
            + (f" **Not clean: {'; '.join(problems)}.**" if problems else ""))


def verdict(r: dict) -> list[str]:
    problems = []
    if r["lost"]:
        problems.append(f"{r['lost']} job(s) lost")
    if r["server_errors"]:
        problems.append(f"{r['server_errors']} 5xx")
    if r["hostile_unexpected"]:
        problems.append(f"{len(r['hostile_unexpected'])} hostile input(s) not refused as expected")
    if r["fuzz_failures"]:
        problems.append(f"{len(r['fuzz_failures'])} schemathesis check(s) failed")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="counts of 1-5 (a quick check of the runner); no report")
    parser.add_argument("--phases", default="", help="comma-separated subset: kills,redis,time_limit,poison,hostile,slow_clients,fuzz")
    parser.add_argument("--no-readme", action="store_true", help="write bench/results/ only")
    parser.add_argument("--rewrite", action="store_true", help="rebuild chaos.md and the README table from chaos.json; no run")
    parser.add_argument("--keep", action="store_true", help="keep the run's folder (logs, clips) even when it is clean")
    args = parser.parse_args(argv)

    if args.rewrite:
        r = json.loads((RESULTS / "chaos.json").read_text())
        update_readme(write("chaos", r, rows(r), TITLE, notes(r, verdict(r))).read_text())
        return 0

    from devtools.chaos import suite

    load = os.getloadavg()[0]
    kwargs = {"phases": tuple(args.phases.split(","))} if args.phases else {}
    r = suite.run(suite.TINY if args.tiny else suite.FULL, **kwargs)
    r["load_avg_start"] = round(load, 2)
    problems = verdict(r)
    print(json.dumps({k: v for k, v in r.items() if k not in ("phases", "faults")}, indent=1, default=str))
    if not args.tiny and not args.phases:
        md = write("chaos", r, rows(r), TITLE, notes(r, problems))
        if not args.no_readme:
            update_readme(md.read_text())
        print(f"wrote {RESULTS / 'chaos.json'} and {md}")
    return conclude("chaos", r, problems, args.keep)


if __name__ == "__main__":
    sys.exit(main())
