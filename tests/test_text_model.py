"""The text reader (models/text): rendered lines over real photos are read and boxed, plain photos
give nothing, and the service comes only from the committed, sha256-checked artifact.

Frames are built in memory at the model's own size (960x540): Pillow's bundled font over photos that
ship inside installed wheels (models.build.photos), so nothing here was drawn to suit the model.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from models import registry
from models.build.frame_eval import cer
from models.build.photos import load_photo
from models.registry import IntegrityError, load_model
from models.service import service
from tests.fixtures_media import SHIPPED_STORE, flip_byte

pytestmark = pytest.mark.unit

NAME = "text-reader"
W, H = 960, 540
#: (text, font size in px at 960x540): a title, a credit and a small caption.
LINES = [("The Long Road Home", 42), ("Directed by Ada Lovelace", 27), ("Chapter 7: The Harbour", 18)]
MAX_CER = 0.1  # measured 0.0 on these lines; a dropped space or colon is 0.05
MIN_IOU = 0.5


def cover(photo: str) -> Image.Image:
    """The photo scaled and centre-cropped to fill W x H."""
    im = Image.fromarray(load_photo(photo))
    scale = max(W / im.width, H / im.height)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BICUBIC)
    left, top = (im.width - W) // 2, (im.height - H) // 2
    return im.crop((left, top, left + W, top + H))


def titled(photo: str) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """The photo with LINES drawn on it, and each line's ink box as fractions of the frame."""
    im = cover(photo)
    draw, y, boxes = ImageDraw.Draw(im), 40, []
    for text, size in LINES:
        font = ImageFont.load_default(size=size)
        draw.text((48, y), text, font=font, fill=(255, 255, 255), stroke_width=2, stroke_fill=(0, 0, 0))
        x0, y0, x1, y1 = draw.textbbox((48, y), text, font=font, stroke_width=2)
        boxes.append((x0 / W, y0 / H, x1 / W, y1 / H))
        y += size * 3
    return np.asarray(im), boxes


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def reader():
    """The served text reader from the committed store, loaded while rapidocr is forbidden to open
    a model or dictionary of its own or to download anything: ours must be the only way in."""
    import rapidocr.inference_engine.onnxruntime.main as ort_engine
    import rapidocr.utils.download_file as download

    def forbidden(*args, **kwargs):
        raise AssertionError("rapidocr tried to make its own session, find its own model or download")

    with pytest.MonkeyPatch.context() as patch:
        # The steps of rapidocr's own path: pick a model from its table, download, open a session.
        patch.setattr(ort_engine.OrtInferSession, "get_model_url", forbidden)
        patch.setattr(ort_engine.OrtInferSession, "_init_sess_opts", forbidden)
        patch.setattr(download.DownloadFile, "run", forbidden)
        model = service(NAME, store=SHIPPED_STORE)
    yield model
    registry.clear_cache()


@pytest.fixture(scope="module")
def read_titles(reader):
    frame, boxes = titled("coffee")
    return reader.handle([frame])[0], boxes


def test_rendered_lines_are_read(read_titles):
    found, _ = read_titles
    texts = [d["text"] for d in found]
    for truth, _size in LINES:
        assert min(cer(text, truth) for text in texts) <= MAX_CER, (truth, texts)
    assert all(d["score"] >= 0.85 for d in found)  # the manifest threshold, measured in models/text


def test_boxes_lie_around_the_rendered_text(read_titles):
    found, boxes = read_titles
    assert len(found) == len(LINES), found  # one box per line, and nothing read off the photo
    for truth_box, (truth, _size) in zip(boxes, LINES, strict=True):
        best = max(found, key=lambda d: iou(d["box"], truth_box))
        assert iou(best["box"], truth_box) >= MIN_IOU, (truth, best, truth_box)
        assert cer(best["text"], truth) <= MAX_CER


def test_plain_photos_give_no_text(reader):
    frames = [np.asarray(cover(photo)) for photo in ("rocket", "coffee", "cat")]
    frames.append(frames[0][: H // 2, : W // 3].copy())  # another size in the same call
    assert reader.handle(frames) == [[], [], [], []]


def test_postprocess_drops_empty_and_unsure_reads_and_boxes_in_fractions(reader):
    quad = np.array([[96, 54], [480, 54], [480, 108], [96, 110]], np.float32)  # slightly tilted
    raw = [[(quad, " Harbour ", 0.97), (quad, "  ", 0.99), (quad, "0", reader.threshold - 0.01)]]
    [[kept]] = reader.postprocess(raw, [np.zeros((540, 960, 3), np.uint8)])
    assert kept == {"box": [0.1, 0.1, 0.5, round(110 / 540, 4)], "score": 0.97, "text": "Harbour"}


def test_describe_names_the_runtime_and_frames(reader):
    described = reader.describe()
    assert described["name"] == NAME and described["version"] == "1.0.0"
    assert described["runtime"] == "onnxruntime" and described["feature"] == "text"
    assert described["frames"] == {"fps": 0.5, "max_side": 960}
    assert described["device"] in ("cpu", "cuda:0")


@pytest.mark.parametrize("victim", ["PP-OCRv6_rec_small.onnx", "MODEL_LICENSES.md"])
def test_tampered_artifact_is_refused(tmp_path, victim):
    shutil.copytree(SHIPPED_STORE / NAME, tmp_path / NAME)
    flip_byte(tmp_path / NAME / "1.0.0" / victim, offset=100)
    with pytest.raises(IntegrityError, match=f"{victim} has sha256"):
        load_model(NAME, store=tmp_path)


def test_the_model_files_are_restored_from_the_wheel_only_as_the_manifest_lists_them(tmp_path):
    """The ONNX files are not committed: `make run`/`make test` copy them out of the installed
    rapidocr wheel, and only bytes whose sha256 the committed manifest lists."""
    import json

    from models.build.text import FROM_WHEEL, restore

    shutil.copytree(SHIPPED_STORE / NAME, tmp_path / NAME)
    version = tmp_path / NAME / "1.0.0"
    for name in FROM_WHEEL:
        (version / name).unlink()
    assert restore(tmp_path, "1.0.0") == list(FROM_WHEEL)
    assert restore(tmp_path, "1.0.0") == []  # complete: nothing to do
    assert load_model(NAME, store=tmp_path).ref == f"{NAME}@1.0.0"  # the registry's own sha256 check passes
    (version / FROM_WHEEL[0]).unlink()
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["files"][FROM_WHEEL[0]] = "0" * 64
    (version / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SystemExit, match="sha256"):
        restore(tmp_path, "1.0.0")
    assert not (version / FROM_WHEEL[0]).exists()
