"""Serve a video-tagger artifact: TorchScript weights + labels.json + manifest.json.

Anything that follows this contract serves without code changes (see docs/MODEL_TAGGER.md):
  * `model.ts` (manifest `weights`): TorchScript; input float [B, T, 3, H, W] normalized with
    `input_spec.mean`/`std` (RGB, 0..1 scale), output [B, len(labels)] logits (or probabilities
    when `input_spec.output == "probabilities"`);
  * `labels.json`: {"labels": [...], "groups": {group: {"exclusive": bool, "labels": [...]}}};
  * manifest `input_spec`: frame_size, frames_per_window, window_s, mean, std (+ `threshold`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from brigade.settings import get_settings

DEFAULT_THRESHOLD = 0.5
REQUIRED_SPEC = ("frame_size", "frames_per_window", "window_s", "mean", "std")


def pick_device() -> tuple[torch.device, torch.dtype]:
    """CUDA in half precision (bf16 where supported) when a GPU is present, else CPU float32."""
    if torch.cuda.is_available():
        return torch.device("cuda:0"), torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.device("cpu"), torch.float32


def normalizer(input_spec: dict, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(offset, scale) taking uint8 values to the model's normalized input: (x - offset) * scale."""
    shape = (1, 1, 3, 1, 1)
    mean = torch.tensor(input_spec["mean"], dtype=torch.float32, device=device).view(shape)
    std = torch.tensor(input_spec["std"], dtype=torch.float32, device=device).view(shape)
    return mean * 255, 1 / (std * 255)


def to_model_input(windows: torch.Tensor, offset: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """uint8 [B, T, H, W, 3] -> normalized float [B, T, 3, H, W]."""
    return (windows.permute(0, 1, 4, 2, 3).float() - offset) * scale


class Tagger:
    """A loaded tagger: metadata plus `window_probs`, the batched forward pass."""

    def __init__(self, model, *, name: str, version: str, labels: list[str], groups: dict, input_spec: dict,
                 threshold: float = DEFAULT_THRESHOLD, device: torch.device | None = None,
                 dtype: torch.dtype | None = None):
        missing = [key for key in REQUIRED_SPEC if key not in input_spec]
        if missing:
            raise ValueError(f"{name}@{version}: input_spec lacks {', '.join(missing)}")
        if device is None:
            device, dtype = pick_device()
        self.name, self.version = name, version
        self.labels, self.groups = list(labels), groups
        self.input_spec, self.threshold = dict(input_spec), float(threshold)
        self.torch_device, self.dtype = torch.device(device), dtype or torch.float32
        self.device = str(self.torch_device)
        self.model = model.to(self.torch_device, self.dtype).eval()
        self._offset, self._scale = normalizer(input_spec, self.torch_device)
        self._outputs_probabilities = input_spec.get("output", "logits") == "probabilities"

    @property
    def frame_size(self) -> int:
        return int(self.input_spec["frame_size"])

    @property
    def frames_per_window(self) -> int:
        return int(self.input_spec["frames_per_window"])

    @property
    def window_s(self) -> float:
        return float(self.input_spec["window_s"])

    def window_probs(self, windows: np.ndarray) -> np.ndarray:
        """uint8 [B, T, H, W, 3] frames -> float32 [B, labels] probabilities."""
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(windows)).to(self.torch_device, non_blocking=True)
            out = self.model(to_model_input(x, self._offset, self._scale).to(self.dtype)).float()
            if not self._outputs_probabilities:
                out = torch.sigmoid(out)
            return out.cpu().numpy()

    def __repr__(self) -> str:
        return f"Tagger({self.name}@{self.version}, {len(self.labels)} labels, device={self.device})"


def load(artifact_dir, manifest: dict) -> Tagger:
    """Registry loader for kind "video-tagger" (called after the sha256 check)."""
    torch.set_num_threads(get_settings().TORCH_THREADS)
    artifact_dir = Path(artifact_dir)
    labels_doc = json.loads((artifact_dir / manifest.get("labels", "labels.json")).read_text())
    device, dtype = pick_device()
    model = torch.jit.load(str(artifact_dir / manifest.get("weights", "model.ts")), map_location=device)
    return Tagger(
        model,
        name=manifest["name"],
        version=manifest["version"],
        labels=labels_doc["labels"],
        groups=labels_doc.get("groups", {}),
        input_spec=manifest["input_spec"],
        threshold=manifest.get("threshold", labels_doc.get("threshold", DEFAULT_THRESHOLD)),
        device=device,
        dtype=dtype,
    )
