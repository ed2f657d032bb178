"""An upload as it streams in: a temp file in UPLOAD_DIR/.incoming, hashed and counted while it is
written and stopped past MAX_UPLOAD_BYTES, then stored under its content address by the configured
backend (`brigade.storage`)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from brigade.settings import get_settings
from brigade.storage import StorageError, configured_backend, content_name


class UploadTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(f"upload exceeds MAX_UPLOAD_BYTES={limit}")
        self.limit = limit


def upload_dir() -> Path:
    path = Path(get_settings().UPLOAD_DIR)
    (path / ".incoming").mkdir(parents=True, exist_ok=True)
    return path


class HashingUpload:
    """A writable temp file in UPLOAD_DIR that hashes and counts bytes as they are written,
    refusing to grow past `limit` (so a too-large body is stopped mid-stream)."""

    def __init__(self, limit: int):
        self.limit = limit
        fd, name = tempfile.mkstemp(dir=upload_dir() / ".incoming", suffix=".part")
        self._file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.size = 0
        self._sha = hashlib.sha256()

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

    def commit(self, extension: str) -> tuple[str, Path | None]:
        """Store the finished upload under its content address with the configured backend;
        returns (uri, local path), the path None when the bytes no longer are on this host."""
        self.close()
        return configured_backend().store(self.path, content_name(self.sha256, extension))
