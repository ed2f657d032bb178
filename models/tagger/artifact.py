"""Serve a video-tagger artifact: TorchScript weights + labels.json + manifest.json.

Anything that follows this contract serves without code changes (see docs/MODEL_TAGGER.md):
  * `model.ts` (manifest `weights`): TorchScript; input float [B, T, 3, H, W] normalized with
    `input_spec.mean`/`std` (RGB, 0..1 scale), output [B, len(labels)] logits (or probabilities
    when `input_spec.output == "probabilities"`), or, with a `class_map`, [B, classes] logits of a
    classifier whose softmax is summed into tags;
  * optional `onnx` (manifest): the same network exported to ONNX (`models.build.tagger_onnx`), served
    on ONNX Runtime where TAGGER_RUNTIME says so (`choose_runtime`);
  * `labels.json`: {"labels": [...], "groups": {group: {"exclusive": bool, "labels": [...]}},
    optional "parents": {label: [parent, ...]}, optional "class_map": {label: [class index, ...]}};
  * manifest `input_spec`: frame_size, frames_per_window, window_s, mean, std (+ `threshold`).

The loaded `Tagger` is a `models.service.ModelService`: preprocess streams sampled frames,
infer is the batched forward pass, postprocess is `models.tagger.timeline.summarize`.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import torch

from brigade.settings import get_settings
from models.analysis.summary import with_features
from models.registry import ModelError
from models.runtimes import OnnxModule, onnx_session
from models.service import ModelService
from models.tagger.inference import frame_batches, tag_request
from models.tagger.timeline import summarize

DEFAULT_THRESHOLD = 0.5
REQUIRED_SPEC = ("frame_size", "frames_per_window", "window_s", "mean", "std")
#: Windows per forward pass when TAGGER_BATCH is 0. On these CPUs EfficientNet-Lite0 runs fastest
#: per frame at batch 4: alone 1.3-1.35x batch 8 (16 and 32 slower still: the activations spill out
#: of cache), and in the served path, with ffmpeg decoding on the other core, 1.4x batch 8's
#: frames/s and 17 % less wall time on an inference-bound 360p clip (8 repetitions side by side).
#: A GPU wants large batches to fill it.
CPU_BATCH, CUDA_BATCH = 4, 64


def default_batch(device: torch.device) -> int:
    return CUDA_BATCH if torch.device(device).type == "cuda" else CPU_BATCH


#: `Tagger.runtime` values, as a result's `model.runtime` names them (a frame model's say the same).
TORCHSCRIPT, ONNXRUNTIME = "torchscript", "onnxruntime"


def choose_runtime(setting: str, manifest: dict, device: torch.device) -> str:
    """TAGGER_RUNTIME against what the artifact ships: `auto` takes the ONNX export on CPU (on one
    thread EfficientNet-Lite0 runs 3-4x the frames/s of frozen TorchScript there, logits within
    1e-5: bench/results/decode.md) and TorchScript on CUDA (half precision, large batches);
    `onnx` insists on the export."""
    if setting == "torchscript":
        return TORCHSCRIPT
    has_onnx = bool(manifest.get("onnx"))
    if setting == "onnx":
        if not has_onnx:
            raise ModelError(f"TAGGER_RUNTIME=onnx, but {manifest.get('name')}@{manifest.get('version')} ships no ONNX "
                             "export (python -m models.build.tagger_onnx adds one)")
        return ONNXRUNTIME
    return ONNXRUNTIME if has_onnx and torch.device(device).type == "cpu" else TORCHSCRIPT


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


def to_model_input(windows: torch.Tensor, offset: torch.Tensor, scale: torch.Tensor,
                   out: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 [B, T, H, W, 3] -> normalized float [B, T, 3, H, W], written into `out` when given."""
    frames = windows.permute(0, 1, 4, 2, 3)
    if out is None:
        return (frames.float() - offset) * scale
    return out.copy_(frames).sub_(offset).mul_(scale)


def class_matrix(labels: list[str], class_map: dict[str, list[int]], num_classes: int) -> torch.Tensor:
    """float [classes, labels]: 1 where a class shows a label (its own or a descendant's)."""
    matrix = torch.zeros(num_classes, len(labels))
    for col, label in enumerate(labels):
        matrix[class_map.get(label, []), col] = 1.0
    return matrix


class Tagger(ModelService):
    """A loaded tagger: metadata plus `window_probs`, the batched forward pass."""

    def __init__(self, model, *, name: str, version: str, labels: list[str], groups: dict, input_spec: dict,
                 threshold: float = DEFAULT_THRESHOLD, device: torch.device | None = None,
                 dtype: torch.dtype | None = None, parents: dict | None = None,
                 class_map: dict[str, list[int]] | None = None, batch_windows: int = 0):
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
        self.batch_windows = int(batch_windows) or default_batch(self.torch_device)
        #: A partial batch: padded to a full one (CUDA: the extra rows are nearly free), else run
        #: window by window (CPU: padding would cost up to batch - 1 windows of compute).
        self.pad_partial_batches = self.torch_device.type == "cuda"
        if isinstance(model, torch.nn.Module):
            self.runtime = TORCHSCRIPT
            self.model = model.to(self.torch_device, self.dtype).eval()
            if isinstance(self.model, torch.jit.ScriptModule):
                # Inline the weights and fold BatchNorm into the convolutions, once the device and
                # dtype are final: about 30 % more frames/s for EfficientNet-Lite0 on one CPU thread.
                self.model = torch.jit.freeze(self.model)
        else:  # `models.runtimes.OnnxModule`: float32 CPU tensors in and out; its session picks the device
            self.runtime, self.model = ONNXRUNTIME, model
            self.device = model.device
        self._offset, self._scale = normalizer(input_spec, self.torch_device)
        self._outputs_probabilities = input_spec.get("output", "logits") == "probabilities"
        self.parents = {label: list((parents or {}).get(label, [])) for label in self.labels}
        self._class_map, self._class_matrix = class_map or None, None
        self._buffers = threading.local()

    def describe(self) -> dict:
        return {**super().describe(), "runtime": self.runtime}

    @property
    def vocab(self) -> dict:
        """What `summarize` needs to turn window scores into tags: JSON, so it can travel in a
        segment result to the merge callback, which loads no model."""
        return {"labels": self.labels, "groups": self.groups, "parents": self.parents, "threshold": self.threshold}

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
        """uint8 [B, T, H, W, 3] frames -> float32 [B, labels] probabilities.

        The model only ever sees two batch sizes, `batch_windows` and 1 (see `warm_up`): a partial
        batch runs window by window on CPU, padded to a full batch on CUDA (where the extra rows
        are nearly free). Each new input shape costs TorchScript a profiling run and a re-optimized
        graph, and oneDNN its own kernels: 10-40 MB of peak RSS per shape, kept for the life of the
        process. With every tail size allowed, a shard worker's peak grew with the number of
        different segment tails it had seen (a 30-minute video: 1.23x a 1-minute one's)."""
        count, full = len(windows), self.batch_windows
        if count in (1, full) or count == 0:
            return self._forward(windows)
        if count > full:
            return np.concatenate([self.window_probs(windows[i:i + full]) for i in range(0, count, full)])
        if self.pad_partial_batches:
            padding = np.zeros((full - count, *windows.shape[1:]), windows.dtype)
            return self._forward(np.concatenate([windows, padding]))[:count]
        return np.concatenate([self._forward(windows[i:i + 1]) for i in range(count)])

    def warm_up(self, rounds: int = 2) -> None:
        """Run both batch shapes the model will see (`window_probs`) on blank frames, so that the
        first request pays no profiling or graph optimization and the process reaches its steady
        memory before it reports ready."""
        size, frames = self.frame_size, self.frames_per_window
        for count in dict.fromkeys((self.batch_windows, 1)):
            blank = np.zeros((count, frames, size, size, 3), np.uint8)
            for _ in range(rounds):
                self._forward(blank)

    def _forward(self, windows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(windows)).to(self.torch_device, non_blocking=True)
            out = self.model(self.model_input(x)).float()
            if self._class_map is not None:  # a classifier: tag = summed probability of its classes
                if self._class_matrix is None:
                    self._class_matrix = class_matrix(self.labels, self._class_map, out.shape[1]).to(out.device)
                out = (torch.softmax(out, dim=1) @ self._class_matrix).clamp_(0.0, 1.0)
            elif not self._outputs_probabilities:
                out = torch.sigmoid(out)
            return out.cpu().numpy()

    def model_input(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 [B, T, H, W, 3] -> the model's input as the served path gives it (a benchmark's
        bare runs take it from here too: clone it to keep it), written into a buffer kept per batch shape
        (and thread): a fresh 2.4-MB tensor per batch cost ~5 % of the forward pass in page
        faults and cache misses on CPU. Same values as `to_model_input`; the layout is its
        channels-last strides for TorchScript (whose convolutions run them faster) and contiguous
        for ONNX Runtime (which would copy a strided input into a contiguous one first)."""
        buffers = self._buffers.__dict__
        buf = buffers.get(x.shape)
        if buf is None:
            if len(buffers) >= 4:  # two shapes in use (window_probs); never let others pile up
                buffers.clear()
            layout = x.permute(0, 1, 4, 2, 3)
            buf = buffers[x.shape] = (torch.empty(layout.shape, dtype=torch.float32, device=x.device)
                                      if self.runtime == ONNXRUNTIME else torch.empty_like(layout, dtype=torch.float32))
        return to_model_input(x, self._offset, self._scale, out=buf).to(self.dtype)

    # The service stages (models.service.ModelService); `handle` streams them batch by batch.
    def preprocess(self, request, cuts: list | None = None, **decode):
        """`decode`: the stream's `facts` and a `stats` dict (`models.tagger.inference.frame_batches`)."""
        return frame_batches(self, request, cuts, **decode)

    def infer(self, windows: np.ndarray) -> np.ndarray:
        return self.window_probs(windows)

    def postprocess(self, raw: dict, request=None) -> dict:
        summary = summarize(raw["windows"], **self.vocab, cuts=raw.get("cuts"), span=raw.get("span"))
        return with_features(summary, raw.get("detections"), raw.get("span"))

    def handle(self, request) -> dict:
        raw = tag_request(self, request)
        return {**raw, **self.postprocess(raw, request)}

    def __repr__(self) -> str:
        return f"Tagger({self.name}@{self.version}, {len(self.labels)} labels, {self.runtime} on {self.device})"


def load(artifact_dir, manifest: dict, runtime: str | None = None) -> Tagger:
    """Registry loader for kind "video-tagger" (called after the sha256 check). `runtime`: a
    TAGGER_RUNTIME value to use instead of the setting (a benchmark or test holding both)."""
    settings = get_settings()
    torch.set_num_threads(settings.TORCH_THREADS)
    artifact_dir = Path(artifact_dir)
    labels_doc = json.loads((artifact_dir / manifest.get("labels", "labels.json")).read_text())
    device, dtype = pick_device()
    if choose_runtime(runtime or settings.TAGGER_RUNTIME, manifest, device) == ONNXRUNTIME:
        model = OnnxModule(onnx_session(artifact_dir / manifest["onnx"]))
        device, dtype = torch.device("cpu"), torch.float32  # where the tensors around the session live
    else:
        model = torch.jit.load(str(artifact_dir / manifest.get("weights", "model.ts")), map_location=device)
    return Tagger(
        model,
        name=manifest["name"],
        version=manifest["version"],
        labels=labels_doc["labels"],
        groups=labels_doc.get("groups", {}),
        parents=labels_doc.get("parents"),
        class_map=labels_doc.get("class_map"),
        input_spec=manifest["input_spec"],
        threshold=manifest.get("threshold", labels_doc.get("threshold", DEFAULT_THRESHOLD)),
        device=device,
        dtype=dtype,
        batch_windows=get_settings().TAGGER_BATCH,
    )
