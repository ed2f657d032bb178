"""models/ in two halves: what a worker loads at run time (the registry, the services, the served
models) and `models/build/` (builds from wheels, training, generated and photographic media,
evaluations), which `make model`, tests and benchmarks run. The serving side never imports the
build side, and the modules of models/ import each other without a loop."""

from __future__ import annotations

import ast
import importlib.util
import re

import pytest

from brigade.settings import ROOT

pytestmark = pytest.mark.unit  # its layer (tests/conftest.py): source only, in this process

BUILD = "models.build"
#: What the API and the workers load besides the serving half of models/; none of it may import the build half.
RUNTIME_PACKAGES = ("app", "tasks", "media", "brigade")


def module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(*packages: str) -> dict[str, object]:
    """Dotted module name -> its file, for every module of `packages`."""
    return {module_name(path): path for package in packages for path in sorted((ROOT / package).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported(path, name: str) -> set[str]:
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


def import_graph(known: dict[str, object]) -> dict[str, set[str]]:
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


def test_the_cycle_finder_and_the_walker_see_what_they_must():
    # Without these the two tests below could pass on a broken walker.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    graph = import_graph(modules("models"))
    # a function-level import is seen (the face build checks its detector on a photo)...
    assert "models.build.photos" in graph["models.build.faces"]
    # ...and one under TYPE_CHECKING is not: the tagger's stages call inference, which only names the type
    assert "models.tagger.inference" in graph["models.tagger.artifact"]
    assert "models.tagger.artifact" not in graph["models.tagger.inference"]


def test_the_modules_of_models_import_each_other_without_a_loop():
    loop = find_cycle(import_graph(modules("models")))
    assert loop is None, f"import loop among models/ modules: {' -> '.join(loop)}"


def test_nothing_a_worker_loads_imports_the_build_side():
    serving = {name: path for name, path in modules("models", *RUNTIME_PACKAGES).items()
               if not (name == BUILD or name.startswith(BUILD + "."))}
    assert "models.registry" in serving and "models.tagger.inference" in serving and "tasks" in {n.split(".")[0] for n in serving}
    offenders = {name: sorted(dep for dep in imported(path, name) if dep == BUILD or dep.startswith(BUILD + "."))
                 for name, path in serving.items()}
    offenders = {name: deps for name, deps in offenders.items() if deps}
    assert not offenders, f"the serving side imports models/build/ (training, data, media generators): {offenders}"


def test_every_python_m_line_of_make_model_names_a_module_that_exists():
    makefile = (ROOT / "Makefile").read_text()
    target = makefile.split("\nmodel:", 1)[1].split("\n\n", 1)[0]
    entry_points = re.findall(r"-m (models\.[\w.]+)", target)
    assert len(entry_points) >= 7 and all(name.startswith(BUILD + ".") for name in entry_points), entry_points
    missing = [name for name in entry_points if importlib.util.find_spec(name) is None]
    assert not missing, f"`make model` runs modules that do not exist: {missing}"
