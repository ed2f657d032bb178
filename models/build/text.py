"""Build `text-reader@1.0.0` from the ONNX models the rapidocr wheel ships (what `make model` runs).

    python -m models.build.text [--store DIR] [--version 1.0.0]
    python -m models.build.text --restore     # make run / make test / the image: the model files from the wheel

No conversion and no download: PP-OCRv6 small detection and recognition, as ONNX, are copied byte
for byte out of the installed `rapidocr` wheel (the recogniser carries its character table in its
ONNX metadata, so no dictionary file is needed; the angle classifier is left out, titles are
upright). The wheel's `MODEL_LICENSES.md` states them Apache-2.0 and lists their sha256; the build
refuses files whose hash differs from that list, so the statement quoted in the manifest covers
exactly the bytes we serve. Apache-2.0 section 4 asks redistributors to pass the licence on: the
wheel's `LICENSE` and `MODEL_LICENSES.md` go into the artifact beside the models.

The manifest and the licence files are committed; the two model files are not (31 MB that the
installed wheel already holds): `--restore` copies them in, checked against the manifest.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import sys
from pathlib import Path

from brigade.digest import sha256_file
from models.build import artifact_args
from models.registry import write_artifact
from models.text.artifact import DETECTOR, FRAME_SPEC, RECOGNIZER, THRESHOLD

NAME = "text-reader"
PACKAGE = "rapidocr"
PACKAGE_VERSION = "3.10.0"
DETECTOR_FILE = "PP-OCRv6_det_small.onnx"
RECOGNIZER_FILE = "PP-OCRv6_rec_small.onnx"
LICENCE_FILES = ("LICENSE", "MODEL_LICENSES.md")


def wheel_files() -> dict[str, tuple[str, Path]]:
    """Artifact name -> (path in the wheel, installed file), for the two models and the two licence files."""
    dist = importlib.metadata.distribution(PACKAGE)
    if dist.version != PACKAGE_VERSION:
        raise SystemExit(f"{PACKAGE} {dist.version} is installed; this build is written for {PACKAGE_VERSION}")
    wanted = {f"{PACKAGE}/models/{DETECTOR_FILE}": DETECTOR_FILE, f"{PACKAGE}/models/{RECOGNIZER_FILE}": RECOGNIZER_FILE}
    wanted.update({f"{PACKAGE}-{PACKAGE_VERSION}.dist-info/licenses/{name}": name for name in LICENCE_FILES})
    found = {wanted[str(f)]: (str(f), Path(dist.locate_file(f))) for f in dist.files or [] if str(f) in wanted}
    missing = sorted(set(wanted.values()) - set(found))
    if missing:
        raise SystemExit(f"the {PACKAGE} wheel lacks {', '.join(missing)}")
    return found


def licence_statement(model_licences: str) -> dict:
    """The licence of our two models as the wheel states it: the SPDX id, the sentence that grants
    it, and the table row (with sha256) that names each file; the files' hashes must match it."""
    grant = re.search(r"The model artifacts in Section 6 are made available under.*?\.(?=\s|$)", model_licences.replace("\n", " "))
    if grant is None:
        raise SystemExit("MODEL_LICENSES.md no longer states the models' licence in the expected words")
    rows = {}
    for name in (DETECTOR_FILE, RECOGNIZER_FILE):
        row = next((line for line in model_licences.splitlines() if line.startswith(f"| `{name}`")), None)
        if row is None:
            raise SystemExit(f"MODEL_LICENSES.md does not list {name}")
        rows[name] = row.strip()
    return {"spdx": "Apache-2.0", "statement": " ".join(grant.group(0).split()), "files": rows,
            "source": f"{PACKAGE} {PACKAGE_VERSION}: {PACKAGE}-{PACKAGE_VERSION}.dist-info/licenses/MODEL_LICENSES.md"}


def check_listed_hashes(files: dict[str, Path], rows: dict[str, str]) -> None:
    """sha256 of each model file, refused unless MODEL_LICENSES.md lists that very hash."""
    for name, row in rows.items():
        digest = sha256_file(files[name])
        if digest not in row:
            raise SystemExit(f"{name} has sha256 {digest}, which MODEL_LICENSES.md does not list: {row}")


def parse_args(argv=None):
    parser = artifact_args(argparse.ArgumentParser(prog="python -m models.build.text", description=__doc__), "1.0.0")
    parser.add_argument("--restore", action="store_true",
                        help="only copy the model files the committed artifact lacks out of the installed wheel")
    return parser.parse_args(argv)


#: The model files that are not committed: the wheel pip installs already holds them, byte for byte
#: (21 MB for the recogniser alone); `restore` copies them into the committed artifact.
FROM_WHEEL = (DETECTOR_FILE, RECOGNIZER_FILE)


def restore(store: str | Path, version: str) -> list[str]:
    """Copy the model files the committed artifact lists but lacks out of the installed wheel,
    checked against the manifest's sha256 (what `make run`, `make test` and the image build run:
    the registry checks them again at every load). Returns the names copied."""
    import json
    import shutil

    target = Path(store) / NAME / version
    manifest = json.loads((target / "manifest.json").read_text())
    source = wheel_files()
    copied = []
    for name in FROM_WHEEL:
        if (target / name).is_file():
            continue
        actual = sha256_file(source[name][1])
        if actual != manifest["files"][name]:
            raise SystemExit(f"{source[name][1]} has sha256 {actual[:12]}…, {NAME}@{version} lists "
                             f"{manifest['files'][name][:12]}…: another {PACKAGE} release? rebuild with `make model`")
        shutil.copyfile(source[name][1], target / name)
        copied.append(name)
    return copied


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.restore:
        copied = restore(args.store, args.version)
        print(f"{NAME}@{args.version}: " + (f"copied {', '.join(copied)} from the {PACKAGE} wheel" if copied else "complete"))
        return 0
    source = wheel_files()
    files = {name: path for name, (_, path) in source.items()}
    licence = licence_statement(files["MODEL_LICENSES.md"].read_text())
    check_listed_hashes(files, licence["files"])
    in_wheel = {wheel_path: sha256_file(path) for wheel_path, path in sorted(source.values())}
    metadata = {
        "licence": "Apache-2.0",
        "licence_detail": licence,
        "provenance": {"package": PACKAGE, "version": PACKAGE_VERSION, "files": in_wheel,
                       "code": f"{PACKAGE} {PACKAGE_VERSION} (Apache-2.0): detection pre/post-processing, crop, "
                               "CTC decoding, imported at run time"},
        "architecture": "PP-OCRv6 small: DB text detector + CTC line recogniser (PaddleOCR, ONNX as rapidocr ships it)",
        "runtime": "onnxruntime",
        "framework": {"onnxruntime": importlib.metadata.version("onnxruntime"), PACKAGE: PACKAGE_VERSION},
        "detector": DETECTOR_FILE,
        "recognizer": RECOGNIZER_FILE,
        "frame_spec": FRAME_SPEC.as_dict(),
        "threshold": THRESHOLD,
        "batch": 1,
        "input_spec": {"color": "rgb frames, given to the models as bgr", "detector": DETECTOR,
                       "recognizer": RECOGNIZER, "resize": "longer side <= frame_spec.max_side, then to a multiple of 32"},
    }
    target = write_artifact(args.store, NAME, args.version, files, kind=NAME, metadata=metadata,
                            make_default=not args.no_default)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
