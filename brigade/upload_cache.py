"""A worker's cache of downloaded uploads (WORKER_CACHE_DIR): each video fetched from remote
storage once, its bytes checked against the sha256 of its content name, the least recently used
videos removed beyond WORKER_CACHE_MAX_BYTES (0: no limit)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from brigade.digest import sha256_file


class UploadCache:
    def __init__(self, root: Path, max_bytes: int):
        self.root, self.max_bytes = Path(root), max_bytes

    def get(self, name: str) -> Path | None:
        """The cached `<sha256>.<ext>`, marked as just used, or None."""
        path = self.root / name
        if path.is_file():
            os.utime(path)  # mtime = last use, so an mtime-based clean-up evicts the least recently used
            return path
        return None

    def fill(self, name: str, download: Callable[[str], None], sha256: str) -> Path | None:
        """Download `name` into the cache (`download(temp path)` writes the bytes); None, and
        nothing kept, if they do not hash to `sha256`."""
        path = self.root / name
        (self.root / ".incoming").mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.root / ".incoming", suffix=".part")
        os.close(fd)
        try:
            download(temp)
            if sha256_file(Path(temp)) != sha256:
                return None
            os.replace(temp, path)  # atomic: a concurrent reader sees the whole file or none
        finally:
            Path(temp).unlink(missing_ok=True)
        if self.max_bytes:
            self._evict(keep=path)
        return path

    def _evict(self, keep: Path) -> None:
        """Remove the least recently used videos (oldest mtime) until the cache fits its limit.
        A reader that has a file open keeps reading it after the unlink."""
        entries = []
        for entry in os.scandir(self.root):
            try:
                if entry.is_file(follow_symlinks=False):
                    stat = entry.stat()
                    entries.append((stat.st_mtime, stat.st_size, Path(entry.path)))
            except FileNotFoundError:  # evicted by another process meanwhile
                continue
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size
