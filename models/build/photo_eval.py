"""Evaluate a tagger on real photographs that nobody here drew (`models.build.photos`): one moving-still
clip per photo, and a concatenation with hard cuts for shots.

    python -m models.build.photo_eval [--model video-tagger]

Per clip, the video-level tags are checked against the photo's `expected` tags (must appear) and
`allowed` ones (may appear: a cat photo taken indoors may well say Indoor). Precision counts a
predicted tag as right when it is expected or allowed; recall counts the expected ones found.
On the concatenation each cut must be a shot boundary (within `CUT_TOLERANCE_S`) and each shot
must carry its photo's expected tags. `record_in_manifest` writes the report into an artifact's
manifest (`make model` does); tests hold the tagger above these numbers minus a margin.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from models.build.photos import PHOTOS, make_concat_clip, make_photo_clip

CLIP_S = 6.0
SHOT_S = 5.0
CUT_TOLERANCE_S = 1.0
#: The concatenation: one photo per shot, hard cuts between them.
CONCAT = ("cat", "motorcycle", "coffee", "grace_hopper")


def clip_score(predicted: set[str], expected: set[str], allowed: set[str]) -> dict:
    right = predicted & (expected | allowed)
    return {"predicted": sorted(predicted), "expected": sorted(expected), "missing": sorted(expected - predicted),
            "unexpected": sorted(predicted - expected - allowed), "right": len(right), "found": len(predicted & expected)}


def totals(rows: list[dict]) -> dict:
    predicted = sum(len(r["predicted"]) for r in rows)
    expected = sum(len(r["expected"]) for r in rows)
    return {"precision": round(sum(r["right"] for r in rows) / predicted, 4) if predicted else 1.0,
            "recall": round(sum(r["found"] for r in rows) / expected, 4) if expected else 1.0}


def shot_report(result: dict, cuts: list[float], names: tuple[str, ...]) -> dict:
    """Shots against the true cuts: each cut matched by a boundary, each shot's tags scored."""
    shots = result.get("shots", [])
    boundaries = [s["start"] for s in shots[1:]]
    errors = [min((abs(b - c) for b in boundaries), default=float("inf")) for c in cuts]
    rows = []
    for index, name in enumerate(names):
        lo, hi = index * SHOT_S, (index + 1) * SHOT_S
        # the shot that covers most of the true one speaks for it
        shot = max(shots, key=lambda s: min(s["end"], hi) - max(s["start"], lo), default={"tags": []})
        photo = PHOTOS[name]
        rows.append({"photo": name, **clip_score({t["label"] for t in shot["tags"]}, set(photo.expected), set(photo.allowed))})
    return {"cuts": cuts, "boundaries": boundaries, "cut_errors_s": [round(e, 3) for e in errors],
            "cuts_found": sum(e <= CUT_TOLERANCE_S for e in errors), "shots": rows, **totals(rows)}


def evaluate(tagger, folder: Path) -> dict:
    from models.tagger.inference import tag_file

    started = time.perf_counter()
    rows = []
    for name, photo in PHOTOS.items():
        path = make_photo_clip(Path(folder) / f"{name}.mp4", name, seconds=CLIP_S)
        result = tag_file(tagger, path)
        rows.append({"photo": name, **clip_score({t["label"] for t in result["tags"]}, set(photo.expected),
                                                 set(photo.allowed))})
    concat, cuts = make_concat_clip(Path(folder) / "concat.mp4", list(CONCAT), seconds_each=SHOT_S)
    shots = shot_report(tag_file(tagger, concat), cuts, CONCAT)
    return {
        "data": f"{len(rows)} real photographs shipped by scikit-image and matplotlib (models/build/photos.py), each a "
                f"{CLIP_S:g}-s 640x360 H.264 clip with camera motion; shots: {len(CONCAT)} of them cut together "
                f"({SHOT_S:g} s each)",
        "model": tagger.ref,
        "clips": rows,
        **totals(rows),
        "concatenation": shots,
        "seconds": round(time.perf_counter() - started, 1),
    }


def record_in_manifest(artifact_dir: Path) -> dict:
    """Evaluate the artifact at `artifact_dir` and store the report as its manifest's `evaluation`."""
    from models.registry import load_model

    artifact_dir = Path(artifact_dir)
    tagger = load_model(f"{artifact_dir.parent.name}@{artifact_dir.name}", store=artifact_dir.parent.parent)
    with tempfile.TemporaryDirectory(prefix="photo-eval-") as folder:
        report = evaluate(tagger, Path(folder))
    manifest_path = artifact_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["evaluation"] = report
    manifest["metrics"] = {"precision": report["precision"], "recall": report["recall"],
                           "shot_precision": report["concatenation"]["precision"],
                           "shot_recall": report["concatenation"]["recall"],
                           "cuts_found": f"{report['concatenation']['cuts_found']}/{len(report['concatenation']['cuts'])}"}
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return report


def main(argv=None) -> None:
    from models.service import service

    parser = argparse.ArgumentParser(prog="python -m models.build.photo_eval", description=__doc__)
    parser.add_argument("--model", default="video-tagger")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="photo-eval-") as folder:
        print(json.dumps(evaluate(service(args.model), Path(folder)), indent=1))


if __name__ == "__main__":
    main()
