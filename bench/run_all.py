"""`make bench`: run every benchmark (each in its own process), then gather their markdown tables
into bench/results/SUMMARY.md and the README's benchmark section."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.report import RESULTS
from devtools.readme import replace_between

BENCHMARKS = ["bench_tagger", "bench_decode", "bench_serving", "bench_sharded", "bench_events", "bench_dispatch", "bench_features",
              "bench_predictive"]
#: Benchmarks on the cluster harness (devtools/cluster/): network namespaces need root.
ROOT_BENCHMARKS = ["bench_lb"]
README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def publish() -> None:
    """Gather every benchmark's markdown table into SUMMARY.md and the README's benchmark section."""
    # chaos.md and cluster_chaos.md have README sections of their own (`make chaos` and `make
    # cluster-chaos` write them between their markers)
    tables = [md.read_text() for md in sorted(RESULTS.glob("*.md")) if md.name not in ("SUMMARY.md", "chaos.md", "cluster_chaos.md")]
    summary = "\n".join(tables)
    (RESULTS / "SUMMARY.md").write_text(summary)
    if README.exists() and START in README.read_text():
        replace_between(README, START, END, summary)


def main(names: list[str]) -> int:
    failed = []
    if not names:
        names = BENCHMARKS + (ROOT_BENCHMARKS if os.geteuid() == 0 else [])
        if os.geteuid() != 0:
            print(f"not root: {', '.join(ROOT_BENCHMARKS)} skipped (network namespaces); their last results stay", flush=True)
    for name in names:
        print(f"== {name}", flush=True)
        if subprocess.run([sys.executable, "-m", f"bench.{name}"]).returncode != 0:
            failed.append(name)
    publish()
    if failed:
        print(f"benchmarks failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
