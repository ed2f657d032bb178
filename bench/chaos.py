"""`make chaos`: run the chaos and abuse suite (devtools/chaos/) end to end and write its report,
bench/results/chaos.json and chaos.md, and the README's "Chaos and abuse" table (between the
`chaos:start` / `chaos:end` markers). Exits 1 when a job was lost, a 5xx was seen or a hostile
input got another answer than a 4xx problem. `--tiny`: counts of 1-5, no report written."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

from bench.report import RESULTS, write

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
        ("hostile inputs answered otherwise than expected", str(len(r["hostile_unexpected"])), "expected: a 4xx problem+json "
         "(or 202 for the two that are valid on their face)"),
        ("fuzz cases run (schemathesis)", str(r.get("fuzz_cases") or "?"),
         f"{fuzz.get('operations', '?')} operations, {len(r['fuzz_failures'])} failing checks"),
        ("**5xx seen**", f"**{r['server_errors']}**", f"must be 0; besides, {r['expected_503_during_redis_faults']} "
         "503 store-unavailable while Redis was stopped or down (by design)"),
        ("worst /healthz under slow clients", f"{r['healthz_worst_ms_under_slow_clients']} ms",
         f"{slow.get('long_polls')} long-polls + {slow.get('dribblers')} header dribblers for {slow.get('seconds')} s; "
         f"p50 {slow.get('healthz_p50_ms')} ms (idle {slow.get('healthz_baseline_p50_ms')} ms), "
         f"{slow.get('healthz_failures')} failed of {slow.get('healthz_samples')}"),
    ]


def update_readme(table_md: str) -> None:
    text = README.read_text()
    block = f"{START}\n{table_md.strip()}\n{END}"
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        raise SystemExit(f"README.md has no {START} marker")
    README.write_text(text)


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
    args = parser.parse_args(argv)

    from devtools.chaos import suite

    load = os.getloadavg()[0]
    kwargs = {"phases": tuple(args.phases.split(","))} if args.phases else {}
    r = suite.run(suite.TINY if args.tiny else suite.FULL, **kwargs)
    r["load_avg_start"] = round(load, 2)
    problems = verdict(r)
    print(json.dumps({k: v for k, v in r.items() if k not in ("phases", "faults")}, indent=1, default=str))
    if not args.tiny and not args.phases:
        notes = (f"All rows from one run ({r['wall_s']:.0f} s wall, {r['cpus']} CPUs, load average {r['load_avg_start']} at "
                 "the start), `make chaos`: a private Redis with AOF on, 2 predict replicas, 2 shard workers, the control "
                 "worker, the events pool (1..3), the API (2 gunicorn processes), the synthetic tagger, generated clips. "
                 "Details of every phase and fault: `bench/results/chaos.json`."
                 + (f" **Not clean: {'; '.join(problems)}.**" if problems else ""))
        md = write("chaos", r, rows(r), "Chaos and abuse (`make chaos`)", notes)
        if not args.no_readme:
            update_readme(md.read_text())
        print(f"wrote {RESULTS / 'chaos.json'} and {md}")
    if problems:
        print("chaos: " + "; ".join(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
