"""Upload retention (`local` backend): stored uploads not uploaded again for UPLOAD_RETENTION_S and
temp files of uploads abandoned mid-way are deleted, by one replica at a time (a worker chore)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from brigade.redis_client import key, redis_client
from brigade.settings import get_settings
from brigade.storage import CONTENT_NAME

#: A temp file in UPLOAD_DIR/.incoming untouched this long belongs to an upload that died mid-way.
STALE_PART_S = 24 * 3600


def sweep_uploads(root: Path, retention_s: float, now: float) -> list[Path]:
    """`local` backend retention: delete stored uploads not uploaded again for `retention_s` (a
    repeat upload of the same bytes renames a fresh file over the old one, renewing its mtime),
    and temp files of uploads abandoned mid-way. Only content-named files are touched. Returns
    what was deleted."""
    doomed = []
    for folder, max_age, wanted in ((root, retention_s, CONTENT_NAME.fullmatch),
                                    (root / ".incoming", STALE_PART_S, lambda n: n.endswith(".part"))):
        if not max_age or not folder.is_dir():
            continue
        for entry in os.scandir(folder):
            try:
                old = entry.is_file(follow_symlinks=False) and now - entry.stat().st_mtime > max_age
            except FileNotFoundError:  # removed by another process meanwhile
                continue
            if old and wanted(entry.name):
                Path(entry.path).unlink(missing_ok=True)
                doomed.append(Path(entry.path))
    return doomed


#: How often one replica applies the upload retention (a directory scan; deletions are not urgent).
UPLOAD_SWEEP_INTERVAL_S = 600


def apply_upload_retention(owner: str, now: float | None = None) -> list[Path]:
    """`sweep_uploads` over UPLOAD_DIR at most once per UPLOAD_SWEEP_INTERVAL_S across all
    replicas (a Redis lock held by `owner` picks one); local backend only."""
    s = get_settings()
    if s.STORAGE_BACKEND != "local":
        return []
    if not redis_client().set(key("upload-sweep-lock"), owner, nx=True, ex=UPLOAD_SWEEP_INTERVAL_S):
        return []
    return sweep_uploads(Path(s.UPLOAD_DIR), s.UPLOAD_RETENTION_S, now or time.time())
