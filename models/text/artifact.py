"""Serve a text-reader artifact: PP-OCRv6 small detection + recognition ONNX graphs + manifest.json.

The graphs and the character table (inside the recogniser's ONNX metadata) come from our artifact
folder, which the registry has sha256-checked; the sessions are ours (`models.runtimes.onnx_session`:
TORCH_THREADS intra-op threads, CUDA when present). rapidocr 3.10.0 (Apache-2.0) supplies the
pre/post-processing around them (DB box extraction, crop, CTC decoding) and is handed those
sessions, so it never opens its own model folder nor reaches for a download.

Frame spec and threshold, measured (`TORCH_THREADS=1`, 2 shared cores) on 1280x720 frames of
four package photos (rocket, coffee, astronaut, cat) with lines of Pillow's Aileron rendered at 12-72 px
(white, with and without a black outline), scaled to each `max_side`:

    max_side | s/frame, titles / plain | lines read (CER <= 0.1), 12 / 14 / 16 / 20 px | blurred + JPEG q30, same sizes
       640   |       0.32 / 0.17        |        3/8  7/8  7/8  8/8                       | 0/8 0/8 0/8 1/8
       960   |       0.62 / 0.41        |        8/8  8/8  8/8  8/8                       | 0/8 4/8 6/8 8/8
      1280   |       0.92 / 0.76        |        8/8  8/8  8/8  8/8                       | 8/8 8/8 8/8 8/8

(28 px and larger: every line read at every size.) `max_side=960` reads what a viewer can read on a
720p screen at two thirds of 1280's cost; titles stay up for seconds, so `fps=0.5` (a read every 2 s;
the job adds shot starts) holds the cost near 0.2-0.3 CPU-s per video second.

Threshold: rendered lines that were read scored 0.95-1.0 (0.89 at the least once degraded). On 54
crops of six plain photos (rocket, coffee, astronaut, cat, camera, grace_hopper; three zooms x three
pans) at 960, the stray reads ("0" on the cat, "9" on the coffee, "2" on the rocket, "C000" on the
cameraman, "X1" and "*" on Grace Hopper's portrait) scored at most 0.79 (0.83 at 1280); rapidocr's
own default threshold, 0.5, keeps 18 of them. `THRESHOLD = 0.85` drops them all and keeps every
rendered read. (Real lettering is text: the astronaut's name tag reads "COLLINS ..." at 0.92, kept.)

Batch: rapidocr's detector runs one frame at a time (its DB post-processing is per image, and frames
differ in size), so `batch=1`; the recogniser batches the lines of one frame itself (6 per pass).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from models.frame_model import FrameModel, FrameSpec, detection
from models.runtimes import model_threads, onnx_device, onnx_session

FRAME_SPEC = FrameSpec(fps=0.5, max_side=960)
THRESHOLD = 0.85
#: rapidocr's own defaults for PP-OCR's DB detector and the CTC recogniser (config.yaml, 3.10.0),
#: except the resize: rapidocr scales the short side *up* to 736 px; we keep the decoded frame's size
#: (rounded to a multiple of 32), so the FrameSpec alone sets the cost.
DETECTOR = {"thresh": 0.3, "box_thresh": 0.5, "max_candidates": 1000, "unclip_ratio": 1.6, "use_dilation": True,
            "score_mode": "fast", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
RECOGNIZER = {"rec_img_shape": [3, 48, 320], "rec_batch_num": 6}


class _Config(dict):
    """The attribute-or-key access rapidocr's classes expect from their OmegaConf section."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(key) from exc


def quiet_rapidocr() -> None:
    """rapidocr logs every engine choice at INFO on its own handler; keep warnings only."""
    logging.getLogger("RapidOCR").setLevel(logging.WARNING)


class TextReader(FrameModel):
    """A loaded text reader: per frame, the lines of text it reads, with box and confidence."""

    feature = "text"
    runtime = "onnxruntime"
    batch = 1

    def __init__(self, detector_path: Path, recognizer_path: Path, *, name: str, version: str, spec: FrameSpec,
                 threshold: float = THRESHOLD, detector: dict | None = None, recognizer: dict | None = None):
        import cv2
        from rapidocr.ch_ppocr_det import TextDetector
        from rapidocr.ch_ppocr_rec import TextRecognizer
        from rapidocr.utils.typings import EngineType, LangRec

        quiet_rapidocr()
        self.name, self.version, self.spec, self.threshold = name, version, spec, float(threshold)
        self.threads = model_threads()
        cv2.setNumThreads(self.threads)  # rapidocr's resizes and crops run in OpenCV's pool
        det_session, rec_session = onnx_session(detector_path), onnx_session(recognizer_path)
        self.device = onnx_device(det_session)
        engine = EngineType.ONNXRUNTIME
        self.detector = TextDetector(_Config({**DETECTOR, **(detector or {}), "engine_type": engine,
                                              "session": det_session, "limit_type": "max",
                                              "limit_side_len": spec.max_side}))
        self.recognizer = TextRecognizer(_Config({**RECOGNIZER, **(recognizer or {}), "engine_type": engine,
                                                  "session": rec_session, "lang_type": LangRec.CH,
                                                  "font_path": None}))

    def warm_up(self) -> None:
        """A blank frame finds no lines, so the recogniser gets a blank line of its own."""
        from rapidocr.ch_ppocr_rec import TextRecInput

        super().warm_up()
        self.recognizer(TextRecInput(img=[np.zeros((48, 320, 3), np.uint8)]))

    def preprocess(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """RGB -> BGR, the channel order PP-OCR was trained on (its normalization is rapidocr's)."""
        return [np.ascontiguousarray(frame[:, :, ::-1]) for frame in frames]

    def infer(self, batch: list[np.ndarray]) -> list[list[tuple[np.ndarray, str, float]]]:
        """Per frame: (quad in pixels, text, confidence) for each line the detector found."""
        from rapidocr.ch_ppocr_rec import TextRecInput
        from rapidocr.utils.process_img import get_rotate_crop_image

        found = []
        for image in batch:
            lines = self.detector(image)
            if lines.boxes is None or len(lines.boxes) == 0:
                found.append([])
                continue
            crops = [get_rotate_crop_image(image, np.array(quad, np.float32)) for quad in lines.boxes]
            read = self.recognizer(TextRecInput(img=crops))
            found.append(list(zip(lines.boxes, read.txts, read.scores, strict=True)))
        return found

    def postprocess(self, outputs, frames: list[np.ndarray]) -> list[list[dict]]:
        """Lines above the threshold with text, boxed by the quad's axis-aligned bounds (fractions)."""
        result = []
        for lines, frame in zip(outputs, frames, strict=True):
            h, w = frame.shape[:2]
            kept = []
            for quad, text, score in lines:
                text = text.strip()
                if not text or score < self.threshold:
                    continue
                quad = np.asarray(quad, np.float64)
                (x0, y0), (x1, y1) = quad.min(axis=0), quad.max(axis=0)
                kept.append(detection([x0 / w, y0 / h, x1 / w, y1 / h], score, text=text))
            result.append(kept)
        return result


def load(artifact_dir: Path, manifest: dict) -> TextReader:
    """Registry loader for kind `text-reader` (files already sha256-verified by the registry)."""
    spec = manifest["frame_spec"]
    inputs = manifest.get("input_spec", {})
    return TextReader(
        artifact_dir / manifest["detector"], artifact_dir / manifest["recognizer"],
        name=manifest["name"], version=manifest["version"], spec=FrameSpec(float(spec["fps"]), int(spec["max_side"])),
        threshold=float(manifest.get("threshold", THRESHOLD)),
        detector=inputs.get("detector"), recognizer=inputs.get("recognizer"),
    )
