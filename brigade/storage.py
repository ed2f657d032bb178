"""Shared upload storage: uploads stream to a temp file, are hashed while they stream, and are
renamed atomically to a content address (`<UPLOAD_DIR>/<sha256>.<ext>`).

Messages carry the storage URI (`file:///…`), never bytes; every worker resolves it with
`local_path()`. The same bytes uploaded twice land on the same path.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from brigade.settings import get_settings


class UploadTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"upload exceeds MAX_UPLOAD_BYTES={limit}")
        self.limit = limit


class StorageError(Exception):
    pass


def upload_dir() -> Path:
    path = Path(get_settings().UPLOAD_DIR)
    (path / ".incoming").mkdir(parents=True, exist_ok=True)
    return path


class HashingUpload:
    """A writable temp file in UPLOAD_DIR that hashes and counts bytes as they are written,
    refusing to grow past `limit` (so a too-large body is stopped mid-stream)."""

    def __init__(self, limit: int | None = None):
        self.limit = self.limit_from_settings() if limit is None else limit
        fd, name = tempfile.mkstemp(dir=upload_dir() / ".incoming", suffix=".part")
        self._file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.size = 0
        self._sha = hashlib.sha256()

    @staticmethod
    def limit_from_settings() -> int:
        return get_settings().MAX_UPLOAD_BYTES

    # Werkzeug's form parser writes to the object returned by Request._get_file_stream.
    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            self.discard()
            raise UploadTooLarge(self.limit)
        self._sha.update(data)
        return self._file.write(data)

    def copy_from(self, stream, chunk: int = 1 << 20) -> HashingUpload:
        while block := stream.read(chunk):
            self.write(block)
        return self

    def seek(self, *args):  # werkzeug seeks back to 0 after writing; reading is done by path
        return 0

    def read(self, *args) -> bytes:  # pragma: no cover - not used; present for the file protocol
        raise StorageError("HashingUpload is write-only; read the file from .path")

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def commit(self, extension: str) -> tuple[str, Path]:
        """Move the finished upload to its content address; returns (uri, path)."""
        self.close()
        ext = "".join(c for c in extension.lower() if c.isalnum())[:8] or "bin"
        final = upload_dir() / f"{self.sha256}.{ext}"
        os.replace(self.path, final)
        return final.resolve().as_uri(), final


def local_path(uri: str) -> Path:
    """Resolve a storage URI to a local file a worker can open; refuses anything outside UPLOAD_DIR."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise StorageError(f"unsupported storage URI scheme {parsed.scheme!r} in {uri!r}")
    path = Path(unquote(parsed.path)).resolve()
    root = upload_dir().resolve()
    if root not in path.parents:
        raise StorageError(f"{uri!r} lies outside UPLOAD_DIR")
    if not path.is_file():
        raise StorageError(f"{uri!r}: no such file in shared storage")
    return path
