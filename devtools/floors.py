"""The floors of the code, drawn from its imports: which top-level package imports which, and at
what height each stands (a package stands one floor above the highest one it imports). `make docs`
writes the picture into docs/ARCHITECTURE.md between the `floors` markers;
`tests/test_floors.py` fails when the picture there is not the code's, or when a run-time package
imports one above it (a loop between floors).

    python -m devtools.floors [--write]
"""

from __future__ import annotations

import argparse
import sys
from functools import cache

from brigade.settings import ROOT
from devtools.imports import find_cycle, imported, modules
from devtools.readme import replace_between

DOC = ROOT / "docs" / "ARCHITECTURE.md"
START, END = "<!-- floors:begin -->", "<!-- floors:end -->"
BUILD = "models.build"
#: What the API and the workers run, plus the build side of models/ (a floor of its own: never loaded by them).
RUN_TIME = ("brigade", "media", "models", BUILD, "worker", "tasks", "app")
#: The harness: tests' and benchmarks' stacks, make run, the cluster; it may import any floor.
HARNESS = ("devtools", "bench")
#: An edge imported by at most this many modules names them; a wider one gives the count.
NAMED = 2


def package_of(module: str) -> str:
    return BUILD if module == BUILD or module.startswith(BUILD + ".") else module.split(".")[0]


@cache
def edges() -> dict[tuple[str, str], tuple[str, ...]]:
    """(importer package, imported package) -> the importer's modules that import it."""
    packages = set(RUN_TIME) | set(HARNESS)
    found: dict[tuple[str, str], set[str]] = {}
    for name, path in modules(*(p for p in (*RUN_TIME, *HARNESS) if p != BUILD)).items():
        here = package_of(name)
        for dep in imported(path, name):
            there = package_of(dep)
            if dep.split(".")[0] in packages and there != here:
                found.setdefault((here, there), set()).add(name)
    return {edge: tuple(sorted(who)) for edge, who in sorted(found.items())}


def run_time_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {p: set() for p in RUN_TIME}
    for a, b in edges():
        if a in graph and b in graph:
            graph[a].add(b)
    return graph


def heights() -> dict[str, int]:
    """Run-time package -> its floor: 0 for one that imports no other, else one above the highest
    it imports. Raises on a loop between floors (no height exists then)."""
    graph = run_time_graph()
    if loop := find_cycle(graph):
        raise ValueError(f"packages import each other: {' -> '.join(loop)}")
    memo: dict[str, int] = {}

    def height(package: str) -> int:
        if package not in memo:
            memo[package] = 1 + max((height(dep) for dep in graph[package]), default=-1)
        return memo[package]

    return {package: height(package) for package in RUN_TIME}


def _who(modules_: tuple[str, ...]) -> str:
    return ", ".join(f"`{m}`" for m in modules_) if len(modules_) <= NAMED else f"{len(modules_)} modules"


def _folder(package: str) -> str:
    return package.replace(".", "/") + "/"


def picture() -> str:
    """The floors as a mermaid graph (an arrow: imports) and a table, from the top floor down."""
    floors = heights()
    order = sorted(RUN_TIME, key=lambda p: (-floors[p], RUN_TIME.index(p)))
    lines = ["```mermaid", "flowchart TD"]
    lines += [f'    {p.replace(".", "_")}["{_folder(p)}"]' for p in order]
    lines += [f'    {a.replace(".", "_")} --> {b.replace(".", "_")}' for (a, b) in edges() if a in floors and b in floors]
    lines += ["```", "", "| floor | package | imports (the modules that do, or how many) |", "|---|---|---|"]
    for package in order:
        out = [f"`{_folder(b)}` ({_who(who)})" for (a, b), who in edges().items() if a == package]
        lines.append(f"| {floors[package]} | `{_folder(package)}` | {'; '.join(out) or 'no other package'} |")
    for package in HARNESS:
        out = [f"`{_folder(b)}`" for (a, b) in edges() if a == package]
        lines.append(f"| harness | `{_folder(package)}` | {', '.join(out)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.floors", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"write the picture into {DOC.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if args.write:
        replace_between(DOC, START, END, picture())
    else:
        print(picture())
    return 0


if __name__ == "__main__":
    sys.exit(main())
