"""docs/ARCHITECTURE.md's picture of the floors is the code's (`devtools.floors`, written by
`make docs`), and the run-time packages stand on floors: none imports a package above it."""

from __future__ import annotations

import pytest

from devtools import floors

pytestmark = pytest.mark.unit  # its layer (tests/conftest.py): source only


def test_the_architecture_picture_is_drawn_from_todays_imports():
    text = floors.DOC.read_text()
    drawn = text.split(floors.START, 1)[1].split(floors.END, 1)[0].strip()
    assert drawn == floors.picture().strip(), "docs/ARCHITECTURE.md's floors are stale: run `make docs`"


def test_the_run_time_packages_stand_on_floors_with_the_shared_one_at_the_bottom():
    heights = floors.heights()  # raises on a loop between packages
    assert heights["brigade"] == 0 and heights["media"] < heights["models"] < heights["worker"] < heights["tasks"]
    assert heights["app"] > heights["worker"]  # the API sends by name through the worker's Celery app


def test_a_loop_between_packages_has_no_floors(monkeypatch):
    looped = {**floors.edges(), ("brigade", "app"): ("brigade.settings",)}
    monkeypatch.setattr(floors, "edges", lambda: looped)
    with pytest.raises(ValueError, match="packages import each other"):
        floors.heights()
