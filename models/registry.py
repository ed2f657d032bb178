"""Versioned model storage: `<store>/<name>/<version>/` holding files plus `manifest.json`.

The manifest records the sha256 of every file, the artifact `kind` (which loader serves it), the
training seed, metrics and input spec. `load_model("name@version")` verifies every hash before the
loader sees a byte and caches the loaded model per process. Loaders are chosen by `kind` from a
fixed table, never by a module path written in the manifest, so a dropped-in artifact cannot make
a worker import arbitrary code.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from brigade.digest import sha256_file
from brigade.features import FRAME_MODEL_ROWS

MANIFEST = "manifest.json"
DEFAULT_POINTER = "DEFAULT"

#: artifact kind -> "module:function" taking (artifact_dir, manifest) and returning the model; the
#: frame models' come from their rows (`brigade.features.FRAME_MODEL_ROWS`).
LOADERS: dict[str, str] = {
    "video-tagger": "models.tagger.artifact:load",
    "hotel-price": "models.hotel.artifact:load",
    **{row.model: row.loader for row in FRAME_MODEL_ROWS},
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_cache: dict[tuple[str, str, str], Any] = {}
_cache_lock = threading.Lock()


class ModelError(Exception):
    """Base of the registry's errors: the message says what to fix."""


class UnknownModel(ModelError):
    pass


class IntegrityError(ModelError):
    pass


def parse_ref(ref: str) -> tuple[str, str | None]:
    """`"name@version"` or `"name"` -> (name, version or None)."""
    name, _, version = ref.partition("@")
    for part in (name, version):
        if part and not _NAME.match(part):
            raise UnknownModel(f"invalid model reference {ref!r}: use name or name@version")
    return name, (version or None)


def _version_key(version: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"[.-]", version)]


def resolve(name: str, version: str | None, store: str | Path) -> Path:
    """The artifact folder of name@version; without a version, the DEFAULT pointer or the newest."""
    base = Path(store) / name
    if not base.is_dir():
        known = sorted(p.name for p in Path(store).iterdir() if p.is_dir()) if Path(store).is_dir() else []
        raise UnknownModel(f"no model named {name!r} in model store {store} (known: {', '.join(known) or 'none'})")
    versions = sorted((p.name for p in base.iterdir() if (p / MANIFEST).is_file()), key=_version_key)
    if version is None:
        pointer = base / DEFAULT_POINTER
        version = pointer.read_text().strip() if pointer.is_file() else (versions[-1] if versions else None)
    if version is None or version not in versions:
        raise UnknownModel(
            f"model {name}@{version} not found in {store} (versions: {', '.join(versions) or 'none'})"
        )
    return base / version


def verify(artifact_dir: Path) -> dict:
    """Read the manifest and check every listed file's sha256; raise IntegrityError on any mismatch."""
    manifest_path = artifact_dir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise IntegrityError(f"{manifest_path}: unreadable manifest ({exc})") from exc
    files = manifest.get("files") or {}
    if not files:
        raise IntegrityError(f"{manifest_path}: lists no files")
    for rel, expected in files.items():
        path = (artifact_dir / rel).resolve()
        if artifact_dir.resolve() not in path.parents:
            raise IntegrityError(f"{manifest_path}: file {rel!r} lies outside the artifact")
        if not path.is_file():
            raise IntegrityError(f"{artifact_dir.name}: {rel} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise IntegrityError(
                f"{artifact_dir.parent.name}@{artifact_dir.name}: {rel} has sha256 {actual[:12]}…, "
                f"manifest says {expected[:12]}…; refusing to serve a tampered or corrupt artifact"
            )
    return manifest


def read_manifest(ref: str, store: str | Path | None = None) -> dict:
    """The manifest of `ref` without loading (or verifying) the model: for processes that need its
    metadata, not its weights (the sharded planner needs the tagger's window length)."""
    store = default_store(store)
    return json.loads((resolve(*parse_ref(ref), store) / MANIFEST).read_text())


def default_store(store: str | Path | None) -> str | Path:
    if store is None:
        from brigade.settings import get_settings

        return get_settings().MODEL_STORE
    return store


def _loader(kind: str) -> Callable[[Path, dict], Any]:
    if kind not in LOADERS:
        raise ModelError(f"artifact kind {kind!r} has no loader (known: {', '.join(sorted(LOADERS))})")
    module, _, func = LOADERS[kind].partition(":")
    return getattr(importlib.import_module(module), func)


def load_model(ref: str, store: str | Path | None = None) -> Any:
    """Load, verify and cache (per process) the model `ref` = name or name@version."""
    store = default_store(store)
    name, version = parse_ref(ref)
    path = resolve(name, version, store)
    key = (str(Path(store).resolve()), name, path.name)
    with _cache_lock:
        if key not in _cache:
            manifest = verify(path)
            model = _loader(manifest["kind"])(path, manifest)
            model.warm_up()  # every loader returns a models.service.ModelService
            _cache[key] = model
        return _cache[key]


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def write_artifact(
    store: str | Path,
    name: str,
    version: str,
    files: Mapping[str, Path],
    *,
    kind: str,
    metadata: Mapping[str, Any],
    make_default: bool = True,
) -> Path:
    """Copy `files` (relative name -> source path) into the store and write their manifest."""
    parse_ref(f"{name}@{version}")
    target = Path(store) / name / version
    target.mkdir(parents=True, exist_ok=True)
    hashes = {}
    for rel, src in files.items():
        dst = target / rel
        if Path(src).resolve() != dst.resolve():
            shutil.copyfile(src, dst)
        hashes[rel] = sha256_file(dst)
    import torch  # the framework version is part of what makes an artifact reproducible

    manifest = {
        "name": name,
        "version": version,
        "kind": kind,
        "files": hashes,
        "framework": {"torch": torch.__version__},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **metadata,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if make_default:
        point_default(target)
    return target


def point_default(artifact_dir: Path) -> None:
    """Make `artifact_dir` its model's DEFAULT version (a build that checks the artifact before
    publishing it writes it with make_default=False, then calls this)."""
    (artifact_dir.parent / DEFAULT_POINTER).write_text(artifact_dir.name + "\n")
