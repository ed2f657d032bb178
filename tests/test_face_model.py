"""face-detector@1.0.0 (MTCNN with facenet-pytorch 2.6.0's weights, scripted by us): faces where they
are on real photos, none where there are none, a small face in a big frame, the port's maths against
the original code's numbers, the artifact's provenance, and batching that changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models import registry, service
from models.build.photos import load_photo
from models.faces.mtcnn import detect, nms, scales
from tests.fixtures_media import SHIPPED_STORE

pytestmark = pytest.mark.unit

NAME, VERSION = "face-detector", "1.0.0"
#: Face boxes (x0, y0, x1, y1 px: hairline or hat brim to chin, cheek to cheek) read off the photos
#: by eye, not from any detector.
FACES = {"astronaut": (180, 68, 268, 178), "grace_hopper": (170, 140, 355, 335)}
#: What facenet-pytorch 2.6.0's own `detect_face` returns on these photos (its code run from the
#: wheel, torchvision's batched_nms replaced by a plain loop with the same semantics): x0, y0, x1,
#: y1, probability. The motorcycle's two are false faces (a wheel, the fork) below our reporting
#: threshold: they pin the sub-threshold arithmetic too.
REFERENCE = {
    "astronaut": [[181.051, 62.156, 267.747, 172.05, 1.0]],
    "camera": [[199.216, 118.926, 254.266, 192.27, 0.999]],
    "motorcycle": [[576.906, 331.847, 654.79, 436.274, 0.929], [565.177, 293.753, 603.743, 343.839, 0.716]],
}


@pytest.fixture(scope="module")
def detector():
    service.unpin()
    try:
        yield service.service(NAME, store=SHIPPED_STORE)
    finally:
        service.unpin()


def iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def fractions(box, image) -> list[float]:
    h, w = image.shape[:2]
    return [box[0] / w, box[1] / h, box[2] / w, box[3] / h]


def test_the_service_is_the_scripted_detector_with_its_manifest(detector):
    manifest = registry.verify(SHIPPED_STORE / NAME / VERSION)
    assert (SHIPPED_STORE / NAME / "DEFAULT").read_text().strip() == VERSION
    assert detector.describe() == {"name": NAME, "version": VERSION, "device": detector.device,
                                   "runtime": "torchscript", "threads": detector.threads, "feature": "faces",
                                   "frames": manifest["frame_spec"]}
    assert manifest["kind"] == "face-detector" and manifest["runtime"] == "torchscript"
    assert set(manifest["files"]) == {"pnet.ts", "rnet.ts", "onet.ts", "LICENSE.md"}
    assert manifest["licence"] == "MIT License" and "Timothy Esler" in manifest["licence_notice"]
    source = manifest["provenance"]
    assert (source["package"], source["version"]) == ("facenet-pytorch", "2.6.0")
    assert {f"facenet_pytorch/data/{k}.pt" for k in ("pnet", "rnet", "onet")} <= set(source["files"])
    assert manifest["files"]["LICENSE.md"] == source["files"]["facenet_pytorch-2.6.0.dist-info/LICENSE.md"]
    assert detector.spec.max_side == manifest["frame_spec"]["max_side"] and detector.batch == manifest["batch"]


@pytest.mark.parametrize("photo", sorted(FACES))
def test_one_face_where_the_face_is(detector, photo):
    image = load_photo(photo)
    [found] = detector.handle([image])
    assert len(found) == 1
    assert found[0]["score"] >= detector.threshold
    assert iou(found[0]["box"], fractions(FACES[photo], image)) > 0.7


@pytest.mark.parametrize("photo", ["cat", "coffee", "rocket"])
def test_no_face_on_photos_without_one(detector, photo):
    assert detector.handle([load_photo(photo)]) == [[]]


def small_face_frame(face_px: int = 30) -> tuple[np.ndarray, list[float]]:
    """The astronaut shrunk so her face is ~face_px wide, pasted into a 640x360 rocket frame (the
    size a 720p video is decoded at); and her face box in fractions of that frame."""
    background = Image.fromarray(load_photo("rocket")).resize((640, 427), Image.BOX)
    frame = np.asarray(background)[33:393].copy()
    face = FACES["astronaut"]
    scale = face_px / (face[2] - face[0])
    side, top, left = round(512 * scale), 100, 330
    person = np.asarray(Image.fromarray(load_photo("astronaut")).resize((side, side), Image.BOX))
    frame[top:top + side, left:left + side] = person[:360 - top, :640 - left]  # clipped at the frame's edges
    box = [left + face[0] * scale, top + face[1] * scale, left + face[2] * scale, top + face[3] * scale]
    return frame, fractions(box, frame)


def test_a_small_face_in_a_big_frame_is_found(detector):
    frame, box = small_face_frame(30)
    [found] = detector.handle([frame])
    assert len(found) == 1 and iou(found[0]["box"], box) > 0.5


def test_a_batch_finds_what_frames_one_by_one_find(detector):
    frames = [small_face_frame(30)[0], small_face_frame(60)[0], np.asarray(Image.fromarray(load_photo("cat")).resize((640, 426))),
              small_face_frame(45)[0], np.asarray(Image.fromarray(load_photo("grace_hopper")).resize((308, 360)))]
    assert detector.batch > 1
    batched = detector.handle(frames)  # two sizes in one batch: grouped, each group one P-Net pass per level
    single = [detector.handle([frame])[0] for frame in frames]
    assert [len(f) for f in batched] == [1, 1, 0, 1, 1]
    for a, b in zip(batched, single, strict=True):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert np.allclose(x["box"], y["box"], atol=2e-4) and abs(x["score"] - y["score"]) < 2e-4


@pytest.mark.parametrize("photo", sorted(REFERENCE))
def test_the_port_matches_the_original_code(detector, photo):
    image = load_photo(photo)
    images = detector.preprocess([image])[0][1]
    [faces] = detect(images, detector.pnet, detector.rnet, detector.onet, detector.cascade)
    found = np.c_[faces.boxes, faces.probs]
    assert found.shape == (len(REFERENCE[photo]), 5)
    assert np.allclose(found, REFERENCE[photo], atol=2e-3)
    assert faces.landmarks.shape == (len(found), 5, 2)


def test_blank_and_tiny_frames_have_no_faces(detector):
    assert detector.handle([np.zeros((360, 640, 3), np.uint8), np.full((8, 8, 3), 200, np.uint8)]) == [[], []]


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 4, 4]], np.float32)
    scores = np.array([0.8, 0.9, 0.7, 0.6], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2, 3]  # IoU(0, 1) = 81/119; the small box overlaps 16/100
    assert nms(boxes, scores, 0.5, mode="min", plus_one=1.0).tolist() == [1, 2]  # inside box 1: overlap 16/25 by min area


def test_the_pyramid_starts_at_the_minimum_face_and_shrinks_by_the_factor():
    levels = scales(360, 640, 20, 0.709)
    assert levels[0] == pytest.approx(0.6) and np.allclose(np.diff(np.log(levels)), np.log(0.709))
    assert 360 * levels[-1] >= 12 > 360 * levels[-1] * 0.709
    assert scales(19, 19, 20, 0.709) == []
