"""What the code imports, read from the source (no module is run): the modules of a package, the
names each imports when it runs, the graph among them and its loops. The layout tests
(`tests/test_models_layout.py`, `tests/test_worker_layout.py`) and the floors picture of
docs/ARCHITECTURE.md (`devtools.floors`) all read the imports through this one walker."""

from __future__ import annotations

import ast
from pathlib import Path

from brigade.settings import ROOT


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(*packages: str) -> dict[str, Path]:
    """Dotted module name -> its file, for every module of `packages`."""
    return {module_name(path): path for package in packages for path in sorted((ROOT / package).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported(path: Path, name: str) -> set[str]:
    """The dotted names a module imports when it runs: module-level and function-level imports,
    `from X import Y` as X and X.Y; what sits under `if TYPE_CHECKING:` is never executed and is
    left out."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def import_graph(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of `known` it imports."""
    return {name: {dep for dep in imported(path, name) if dep in known and dep != name} for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop of `graph` as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state and (loop := walk(dep)):
                return loop
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (loop := walk(node)):
            return loop
    return None
