"""Build `face-detector@1.0.0` from the MTCNN weights facenet-pytorch 2.6.0 ships (what `make model`
runs).

    python -m models.build.faces [--wheel PATH] [--version 1.0.0]

facenet-pytorch is never installed (it pins torch<2.3 and numpy<2 and imports torchvision): its
wheel is fetched with `pip download --no-deps` (or given with --wheel), checked against the sha256
pinned here and the wheel's own RECORD, and only read as a zip. The three state dicts (`pnet.pt`,
`rnet.pt`, `onet.pt`, MIT, Copyright (c) 2019 Timothy Esler, ported from davidsandberg/facenet,
MIT) are loaded with `weights_only=True` into our networks (`models.faces.nets`), scripted, and
saved as TorchScript beside the wheel's LICENSE.md; the serving side needs neither the wheel nor
this module. Before writing, the built artifact must find the one face of astronaut and of
grace_hopper and none on cat, coffee or rocket (`check_photos`).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import torch

from models.build import artifact_args
from models.faces.mtcnn import Cascade
from models.faces.nets import NETS, scripted
from models.frame_model import FrameSpec
from models.registry import point_default, write_artifact

NAME, KIND = "face-detector", "face-detector"
PACKAGE, VERSION = "facenet-pytorch", "2.6.0"
WHEEL = "facenet_pytorch-2.6.0-py3-none-any.whl"
WHEEL_SHA256 = "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca"  # PyPI's file
LICENCE_FILE = "facenet_pytorch-2.6.0.dist-info/LICENSE.md"
WEIGHT_FILES = {kind: f"facenet_pytorch/data/{kind}.pt" for kind in NETS}

#: Measured (models/faces/__init__.py): at 640 a face ~24 px wide in a 720p frame is still found, at
#: 21 frames per CPU-second (960: 16 px at 10; full 720p: 5.4).
FRAME_SPEC = FrameSpec(fps=1.0, max_side=640)
CASCADE = Cascade(min_face=20, factor=0.709, thresholds=(0.6, 0.7, 0.7), crop_batch=512)
REPORT_THRESHOLD = 0.95  # true faces scored >= 0.99; a motorcycle wheel 0.929
BATCH = 4
FACES_EXPECTED = {"astronaut": 1, "grace_hopper": 1, "cat": 0, "coffee": 0, "rocket": 0}


def fetch_wheel(folder: Path) -> Path:
    """The wheel from the package index (build time only; nothing is fetched at run time)."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                    f"{PACKAGE}=={VERSION}", "-d", str(folder)], check=True)
    return folder / WHEEL


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_wheel(path: Path) -> dict:
    """The weight files and licence out of the wheel, each checked against the wheel's RECORD."""
    wheel_hash = sha256(path.read_bytes())
    if wheel_hash != WHEEL_SHA256:
        raise SystemExit(f"{path.name}: sha256 {wheel_hash}, expected {WHEEL_SHA256}; refusing to build")
    with zipfile.ZipFile(path) as wheel:
        record_name = next(n for n in wheel.namelist() if n.endswith(".dist-info/RECORD"))
        record = {row[0]: row[1] for row in csv.reader(io.StringIO(wheel.read(record_name).decode())) if row}
        files = {name: wheel.read(name) for name in (*WEIGHT_FILES.values(), LICENCE_FILE)}
    for name, data in files.items():
        digest = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        if record.get(name) != digest:
            raise SystemExit(f"{path.name}: {name} does not match the wheel's RECORD")
    return {"wheel_sha256": wheel_hash, "files": files}


def check_photos(artifact_dir: Path, manifest: dict) -> dict[str, list[float]]:
    """Face probabilities the built detector reports per photo; raises unless they match
    FACES_EXPECTED."""
    from models.build.photos import load_photo
    from models.faces.artifact import load

    detector = load(artifact_dir, manifest)
    found = {name: [d["score"] for d in detector.handle([load_photo(name)])[0]] for name in FACES_EXPECTED}
    wrong = {name: scores for name, scores in found.items() if len(scores) != FACES_EXPECTED[name]}
    if wrong:
        raise SystemExit(f"the built face detector is wrong on {wrong} (expected counts {FACES_EXPECTED})")
    return found


def parse_args(argv=None):
    parser = artifact_args(argparse.ArgumentParser(description=__doc__.split("\n")[0]), "1.0.0")
    parser.add_argument("--wheel", type=Path, help=f"a local copy of {WHEEL} (default: pip download)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="build-faces-") as tmp:
        tmp = Path(tmp)
        source = read_wheel(args.wheel or fetch_wheel(tmp))
        licence_text = source["files"][LICENCE_FILE].decode()
        files = {"LICENSE.md": tmp / "LICENSE.md"}
        files["LICENSE.md"].write_bytes(source["files"][LICENCE_FILE])
        for kind, name in WEIGHT_FILES.items():
            state = torch.load(io.BytesIO(source["files"][name]), map_location="cpu", weights_only=True)
            files[f"{kind}.ts"] = tmp / f"{kind}.ts"
            torch.jit.save(scripted(kind, state), str(files[f"{kind}.ts"]))
        metadata = {
            "architecture": "MTCNN (P-Net, R-Net, O-Net; Zhang et al. 2016), scripted to TorchScript",
            "runtime": "torchscript",
            "weights": {kind: f"{kind}.ts" for kind in NETS},
            "licence": licence_text.splitlines()[0].strip(),
            "licence_notice": next(line.strip() for line in licence_text.splitlines() if "Copyright" in line),
            "licence_file": "LICENSE.md",
            "provenance": {
                "package": PACKAGE, "version": VERSION, "wheel": WHEEL, "wheel_sha256": source["wheel_sha256"],
                "files": {name: sha256(data) for name, data in source["files"].items()},
                "origin": "weights ported by facenet-pytorch from davidsandberg/facenet (MIT), "
                          "from the MTCNN authors' release (kpzhang93/MTCNN_face_detection_alignment, MIT)",
            },
            "frame_spec": FRAME_SPEC.as_dict(),
            "detector": CASCADE.as_dict(),
            "min_face": CASCADE.min_face,
            "threshold": REPORT_THRESHOLD,
            "batch": BATCH,
            "output": "per frame: faces with box [x0, y0, x1, y1] as fractions of the frame and score = "
                      "O-Net's face probability, reported when >= threshold",
        }
        target = write_artifact(args.store, NAME, args.version, files, kind=KIND, metadata=metadata, make_default=False)
    manifest = json.loads((target / "manifest.json").read_text())
    found = check_photos(target, manifest)
    if not args.no_default:
        point_default(target)
    print(f"wrote {target} in {time.perf_counter() - started:.1f}s; faces per photo: {found}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
