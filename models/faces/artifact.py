"""Serve a face-detector artifact: MTCNN's three networks as TorchScript (`pnet.ts`, `rnet.ts`,
`onet.ts`, scripted by `models.build.faces` from facenet-pytorch 2.6.0's weights) + manifest.

Manifest keys read here: `weights` ({"pnet"|"rnet"|"onet": file}), `detector`
(`models.faces.mtcnn.Cascade`: min_face, factor, stage thresholds, crop_batch), `threshold` (the
probability a face needs to be reported), `frame_spec` (fps, max_side), `batch` (frames per call).

Frames per `infer` (`batch`, 4): P-Net runs once per pyramid level over all of them, R-Net and
O-Net over the candidate crops of all of them. On CPU batching saves little (P-Net's work grows
with the pixels whatever the batch); it bounds the memory of one call and fills a GPU better.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.faces.mtcnn import Cascade, Faces, detect
from models.frame_model import FrameModel, FrameSpec, detection
from models.runtimes import load_torchscript, model_threads, torch_device

NETS = ("pnet", "rnet", "onet")


class FaceDetector(FrameModel):
    """MTCNN over decoded frames: per frame, each face as a box (fractions) and its probability."""

    feature = "faces"
    runtime = "torchscript"

    def __init__(self, nets: dict, *, name: str, version: str, spec: FrameSpec, cascade: Cascade,
                 threshold: float, batch: int, device: torch.device, threads: int = 1):
        self.pnet, self.rnet, self.onet = (nets[k] for k in NETS)
        self.name, self.version = name, version
        self.spec, self.cascade, self.threshold = spec, cascade, float(threshold)
        self.batch, self.threads = int(batch), int(threads)
        self.torch_device, self.device = device, str(device)

    def preprocess(self, frames: list[np.ndarray]) -> list[tuple[list[int], torch.Tensor]]:
        """Frames grouped by size (one video's share one) as float [B, 3, H, W] on the device."""
        groups: dict[tuple, list[int]] = {}
        for i, frame in enumerate(frames):
            groups.setdefault(frame.shape, []).append(i)
        return [(idx, torch.from_numpy(np.stack([frames[i] for i in idx])).to(self.torch_device)
                 .permute(0, 3, 1, 2).float()) for idx in groups.values()]

    def infer(self, groups: list[tuple[list[int], torch.Tensor]]) -> list[Faces]:
        found: dict[int, Faces] = {}
        for idx, images in groups:
            found.update(zip(idx, detect(images, self.pnet, self.rnet, self.onet, self.cascade), strict=True))
        return [found[i] for i in range(len(found))]

    def postprocess(self, outputs: list[Faces], frames: list[np.ndarray]) -> list[list[dict]]:
        """Faces at or above `threshold`, boxes as fractions of their frame."""
        result = []
        for faces, frame in zip(outputs, frames, strict=True):
            h, w = frame.shape[:2]
            scale = np.array([w, h, w, h], np.float32)
            result.append([detection(box / scale, prob) for box, prob in zip(faces.boxes, faces.probs, strict=True)
                           if prob >= self.threshold])
        return result

    def warm_up(self, rounds: int = 2) -> None:
        """A full batch of blank 16:9 frames at the largest size (every pyramid level at the batch
        the worker will run), then R-Net and O-Net on one crop each (a blank frame gives them no
        candidates): TorchScript's profiling runs happen here, and most of the peak memory."""
        side = self.spec.max_side
        blank = np.zeros((side * 9 // 16, side, 3), np.uint8)
        for _ in range(rounds):
            self.handle([blank] * max(1, self.batch))
            with torch.inference_mode():
                self.rnet(torch.zeros((1, 3, 24, 24), device=self.torch_device))
                self.onet(torch.zeros((1, 3, 48, 48), device=self.torch_device))

    def __repr__(self) -> str:
        return f"FaceDetector({self.name}@{self.version}, device={self.device})"


def load(artifact_dir, manifest: dict) -> FaceDetector:
    """Registry loader for kind "face-detector" (called after the sha256 check)."""
    artifact_dir = Path(artifact_dir)
    weights = manifest.get("weights") or {k: f"{k}.ts" for k in NETS}
    nets = {k: load_torchscript(artifact_dir / weights[k]) for k in NETS}
    detector = manifest.get("detector", {})
    cascade = Cascade(min_face=int(detector.get("min_face", 20)), factor=float(detector.get("factor", 0.709)),
                      thresholds=tuple(detector.get("thresholds", (0.6, 0.7, 0.7))),
                      crop_batch=int(detector.get("crop_batch", 512)))
    return FaceDetector(nets, name=manifest["name"], version=manifest["version"],
                        spec=FrameSpec(**manifest["frame_spec"]), cascade=cascade,
                        threshold=manifest.get("threshold", 0.9), batch=manifest.get("batch", 4),
                        device=torch_device(), threads=model_threads())
