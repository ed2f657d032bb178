"""Add an ONNX export of a video-tagger artifact's TorchScript network to the artifact itself.

    python -m models.build.tagger_onnx [--model video-tagger@2.0.0]

The same weights, exported by torch's TorchScript exporter (opset 17, the batch axis free), so a CPU
worker can serve them on ONNX Runtime (TAGGER_RUNTIME, `models.tagger.artifact.choose_runtime`): on
one thread EfficientNet-Lite0 runs there at 3-4x the frames/s of frozen TorchScript, which matters
once the decoder skips what the model never sees (bench/results/decode.md). The export is refused
unless ONNX Runtime's logits match TorchScript's within `TOLERANCE` on random frames and on real
photographs, at both batch shapes the tagger uses; the largest difference, the opset and both
runtimes' versions go into the manifest beside the file's sha256. `make model` runs this after
`models.build.tagger`. Needs the `onnx` package (requirements-dev.txt), which serving does not.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from brigade.digest import sha256_file
from models.registry import MANIFEST, parse_ref, resolve
from models.runtimes import OnnxModule, onnx_session

OPSET = 17
FILE = "model.onnx"
#: Largest difference of a logit allowed between the runtimes (measured: about 5e-6).
TOLERANCE = 1e-3


def photo_frames(size: int, count: int) -> np.ndarray:
    """uint8 [count, 1, size, size, 3]: the evaluation photographs (scikit-image's), squashed as the
    tagger's decode squashes a frame."""
    from PIL import Image

    from models.build.photos import PHOTOS, load_photo

    frames = [np.asarray(Image.fromarray(load_photo(name)).convert("RGB").resize((size, size), Image.BOX))
              for name in list(PHOTOS)[:count]]
    return np.stack(frames)[:, None]


def largest_difference(scripted, exported: OnnxModule, frames: np.ndarray, input_spec: dict) -> float:
    """The largest |logit difference| of the two runtimes over `frames`, in batches of 4 and of 1."""
    from models.tagger.artifact import normalizer, to_model_input

    offset, scale = normalizer(input_spec)
    worst = 0.0
    with torch.inference_mode():
        for batch in (4, 1):
            for i in range(0, len(frames), batch):
                x = to_model_input(torch.from_numpy(frames[i:i + batch]), offset, scale).contiguous()
                worst = max(worst, float((scripted(x) - exported(x)).abs().max()))
    return worst


def export(artifact_dir: Path) -> dict:
    """Write `model.onnx` into the artifact and record it in its manifest; returns the record."""
    artifact_dir = Path(artifact_dir)
    manifest_path = artifact_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    spec, size = manifest["input_spec"], int(manifest["input_spec"]["frame_size"])
    scripted = torch.jit.load(str(artifact_dir / manifest.get("weights", "model.ts")), map_location="cpu").eval()
    example = torch.zeros(4, int(spec["frames_per_window"]), 3, size, size)
    with tempfile.TemporaryDirectory(prefix="tagger-onnx-") as tmp:
        path = Path(tmp) / FILE
        torch.onnx.export(scripted, (example,), str(path), input_names=["frames"], output_names=["logits"],
                          dynamic_axes={"frames": {0: "batch"}, "logits": {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)
        exported = OnnxModule(onnx_session(path))
        rng = np.random.default_rng(0)
        frames = np.concatenate([photo_frames(size, 8), rng.integers(0, 256, (4, 1, size, size, 3), np.uint8)])
        worst = largest_difference(scripted, exported, frames, spec)
        if worst > TOLERANCE:
            raise SystemExit(f"ONNX export disagrees with TorchScript: a logit differs by {worst:.2e} (> {TOLERANCE:g})")
        (artifact_dir / FILE).write_bytes(path.read_bytes())
    record = {"file": FILE, "opset": OPSET, "max_abs_logit_difference": float(f"{worst:.3g}"),
              "checked_on": f"{len(frames)} frames (8 photographs, 4 random), batches of 4 and 1",
              "onnxruntime": metadata.version("onnxruntime"), "onnx": metadata.version("onnx"), "torch": torch.__version__}
    manifest["onnx"] = FILE
    manifest["onnx_export"] = record
    manifest["files"][FILE] = sha256_file(artifact_dir / FILE)
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return record


def main(argv=None) -> int:
    from brigade.settings import get_settings

    parser = argparse.ArgumentParser(prog="python -m models.build.tagger_onnx", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="video-tagger")
    parser.add_argument("--store", default=get_settings().MODEL_STORE)
    args = parser.parse_args(argv)
    target = resolve(*parse_ref(args.model), args.store)
    record = export(target)
    print(f"{target}: {FILE} written, logits within {record['max_abs_logit_difference']:g} of TorchScript's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
