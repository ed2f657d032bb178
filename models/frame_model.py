"""The shape every per-frame model shares (people, faces, text): a `ModelService` that takes
decoded RGB frames of one video and returns, per frame, what it found in it.

A frame model says which frames it wants (`FrameSpec`: a rate and a largest side, aspect kept);
the job's one decode (`media.taps`) produces them beside the tagger's, and `handle` turns a list of
frames into a list of detections per frame. Boxes are fractions of the frame (x0, y0, x1, y1 in
0..1), so they mean the same whatever size the frame was decoded at.

    preprocess(frames) -> the runtime's input     (resize, normalize, pad: the model's own business)
    infer(batch)       -> raw outputs             (batched: `batch` frames per call at most)
    postprocess(raw, frames) -> [[Detection, ...] per frame]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from models.service import ModelService


@dataclass(frozen=True)
class FrameSpec:
    """Which frames a model wants: `fps` samples per second of video (from the middle of each
    interval, as the tagger's), scaled so the longer side is at most `max_side` (aspect kept, never
    enlarged)."""

    fps: float
    max_side: int

    def as_dict(self) -> dict:
        return {"fps": self.fps, "max_side": self.max_side}


def detection(box, score: float, **extra) -> dict:
    """One finding: its box as fractions of the frame (rounded for JSON), its score, and any extra
    fields (`text` for the text reader)."""
    x0, y0, x1, y1 = (min(1.0, max(0.0, float(v))) for v in box)
    return {"box": [round(x0, 4), round(y0, 4), round(x1, 4), round(y1, 4)], "score": round(float(score), 4), **extra}


class FrameModel(ModelService):
    """A loaded per-frame model. Subclasses set `name`, `version`, `device`, `feature`, `spec`,
    `runtime` and `batch`, and implement `preprocess`, `infer` and `postprocess`."""

    feature: str = "frames"  # the `features=` value it answers: "people", "faces" or "text"
    spec: FrameSpec = FrameSpec(1.0, 640)
    runtime: str = "torchscript"  # or "onnxruntime"
    batch: int = 1
    threads: int = 1

    def describe(self) -> dict:
        return {**super().describe(), "runtime": self.runtime, "threads": self.threads, "feature": self.feature,
                "frames": self.spec.as_dict()}

    def handle(self, frames: list[np.ndarray]) -> list[list[dict]]:
        """Detections for each of `frames` (uint8 HxWx3 RGB), `batch` frames per forward pass."""
        found: list[list[dict]] = []
        for i in range(0, len(frames), max(1, self.batch)):
            chunk = frames[i:i + max(1, self.batch)]
            found.extend(self.postprocess(self.infer(self.preprocess(chunk)), chunk))
        return found

    def warm_up(self) -> None:
        """One pass over a blank frame of the largest size it will be given (the first request
        then pays no lazy initialization)."""
        side = self.spec.max_side
        self.handle([np.zeros((side * 9 // 16, side, 3), np.uint8)])

    def preprocess(self, frames: list[np.ndarray]) -> Any:
        raise NotImplementedError

    def infer(self, batch: Any) -> Any:
        raise NotImplementedError

    def postprocess(self, outputs: Any, frames: list[np.ndarray]) -> list[list[dict]]:
        raise NotImplementedError
