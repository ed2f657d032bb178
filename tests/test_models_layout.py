"""models/ in two halves: what a worker loads at run time (the registry, the services, the served
models) and `models/build/` (builds from wheels, training, generated and photographic media,
evaluations), which `make model`, tests and benchmarks run. The serving side never imports the
build side, and the modules of models/ import each other without a loop."""

from __future__ import annotations

import importlib.util
import re

import pytest

from brigade.settings import ROOT
from devtools.imports import find_cycle, import_graph, imported, modules

pytestmark = pytest.mark.unit  # its layer (tests/conftest.py): source only, in this process

BUILD = "models.build"
#: What the API and the workers load besides the serving half of models/; none of it may import the build half.
RUNTIME_PACKAGES = ("app", "tasks", "worker", "media", "brigade")


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
