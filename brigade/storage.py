"""Upload storage: uploads stream to a temp file in UPLOAD_DIR, are hashed while they stream, and
are stored under a content address, `<sha256>.<ext>`, by the backend STORAGE_BACKEND names:

* `local`: renamed atomically into UPLOAD_DIR, a directory every worker must see
  (`file:///…/<sha256>.<ext>`).
* `s3`: uploaded to `s3://<S3_BUCKET>/<S3_PREFIX><sha256>.<ext>` (skipped when that object already
  exists), for pods that share no disk; the local temp file is then removed.

Messages carry the URI, never bytes. A worker resolves it with `local_path()`, which picks the
backend by the URI's scheme, whatever STORAGE_BACKEND says: a `file://` path must lie in UPLOAD_DIR;
an `s3://` object must be in the configured bucket and prefix and is downloaded once into
WORKER_CACHE_DIR (its bytes checked against the sha256 of its name; the least recently used videos
go beyond WORKER_CACHE_MAX_BYTES). The same bytes uploaded twice get the same URI.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

from brigade.digest import sha256_file
from brigade.redis_client import key, redis_client
from brigade.settings import Settings, get_settings

#: `<sha256>.<ext>`: the only object names an `s3://` URI may end with (no `/`, no `..`).
CONTENT_NAME = re.compile(r"(?P<sha256>[0-9a-f]{64})\.[a-z0-9]{1,8}")


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


def content_name(sha256: str, extension: str) -> str:
    ext = "".join(c for c in extension.lower() if c.isascii() and c.isalnum())[:8] or "bin"
    return f"{sha256}.{ext}"


def check_named_by(uri: str, sha256: str) -> None:
    """StorageError unless the stored file `uri` carries the content-addressed name of `sha256`.
    The API names each upload by the hash of the bytes it received, so results cached under a
    sha256 stay the results of those bytes, whatever sha256 a message claims."""
    match = CONTENT_NAME.fullmatch(Path(unquote(urlparse(uri).path)).name)
    if match is None or match["sha256"] != sha256:
        raise StorageError("the message's sha256 does not name its video")


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


def local_path(uri: str) -> Path:
    """Resolve a storage URI to a local file a worker can open (see the module's docstring)."""
    scheme = urlparse(uri).scheme
    if scheme not in SCHEMES:
        raise StorageError(f"unsupported storage URI scheme {scheme!r} in {uri!r}")
    return SCHEMES[scheme](get_settings()).fetch(uri)


def configured_backend() -> LocalStorage | S3Storage:
    s = get_settings()
    if s.STORAGE_BACKEND not in BACKENDS:
        raise StorageError(f"STORAGE_BACKEND={s.STORAGE_BACKEND!r}: use one of {sorted(BACKENDS)}")
    return BACKENDS[s.STORAGE_BACKEND](s)


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


class LocalStorage:
    """`file://` URIs in UPLOAD_DIR, a directory every process sees (one host, or a shared volume)."""

    def __init__(self, settings: Settings):
        # No mkdir: built on every fetch; a HashingUpload has made UPLOAD_DIR/.incoming before any store.
        self.root = Path(settings.UPLOAD_DIR)

    def store(self, temp: Path, name: str) -> tuple[str, Path]:
        final = self.root / name
        os.replace(temp, final)
        return final.resolve().as_uri(), final

    def fetch(self, uri: str) -> Path:
        path = Path(unquote(urlparse(uri).path)).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError("the video's URI lies outside UPLOAD_DIR")
        if not path.is_file():
            raise StorageError("the video is no longer in shared storage")
        return path


class S3Storage:
    """`s3://` URIs of objects in S3_BUCKET under S3_PREFIX, on AWS or any S3-compatible server
    (S3_ENDPOINT_URL), for pods that share no disk. Credentials come from boto3's own chain (the
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables, a web identity, an instance role)."""

    def __init__(self, settings: Settings):
        if not settings.S3_BUCKET:
            raise StorageError("s3 storage needs S3_BUCKET")
        self.bucket, self.prefix = settings.S3_BUCKET, settings.S3_PREFIX
        self.cache, self.cache_max_bytes = Path(settings.WORKER_CACHE_DIR), settings.WORKER_CACHE_MAX_BYTES
        self.client = s3_client(settings.S3_ENDPOINT_URL, settings.S3_REGION, os.getpid())

    def store(self, temp: Path, name: str) -> tuple[str, None]:
        key = self.prefix + name
        with s3_errors(f"upload to s3://{self.bucket}/{key}"):
            if not self._exists(key):  # content addressed: an existing object holds these very bytes
                self.client.upload_file(str(temp), self.bucket, key)  # multipart above 8 MiB
        temp.unlink(missing_ok=True)
        return f"s3://{self.bucket}/{key}", None

    def fetch(self, uri: str) -> Path:
        name = self._name_in(uri)
        path = self.cache / name
        if path.is_file():
            os.utime(path)  # mtime = last use, so an mtime-based clean-up evicts the least recently used
            return path
        (self.cache / ".incoming").mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.cache / ".incoming", suffix=".part")
        os.close(fd)
        try:
            with s3_errors(f"download of {uri!r}"):
                self.client.download_file(self.bucket, self.prefix + name, temp)
            if sha256_file(Path(temp)) != CONTENT_NAME.fullmatch(name)["sha256"]:
                raise StorageError(f"{uri!r}: the downloaded bytes do not hash to the sha256 of the name")
            os.replace(temp, path)  # atomic: a concurrent reader sees the whole file or none
        finally:
            Path(temp).unlink(missing_ok=True)
        if self.cache_max_bytes:
            self._evict(keep=path)
        return path

    def _evict(self, keep: Path) -> None:
        """Remove the least recently used videos (oldest mtime) until the cache fits its limit.
        A reader that has a file open keeps reading it after the unlink."""
        entries = []
        for entry in os.scandir(self.cache):
            try:
                if entry.is_file(follow_symlinks=False):
                    stat = entry.stat()
                    entries.append((stat.st_mtime, stat.st_size, Path(entry.path)))
            except FileNotFoundError:  # evicted by another process meanwhile
                continue
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.cache_max_bytes:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size

    def _name_in(self, uri: str) -> str:
        """The `<sha256>.<ext>` an URI names, refusing any other bucket, prefix or key shape: a
        hostile message must not make a worker fetch arbitrary objects."""
        parsed = urlparse(uri)
        head = f"/{self.prefix}"
        name = parsed.path[len(head):]
        if (parsed.netloc != self.bucket or not parsed.path.startswith(head) or parsed.params or parsed.query
                or parsed.fragment or not CONTENT_NAME.fullmatch(name)):
            raise StorageError(f"{uri!r} is not an upload in s3://{self.bucket}/{self.prefix}")
        return name

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            # Without s3:ListBucket a missing key answers 403, not 404: upload, which then tells.
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "403"):
                return False
            raise
        return True


BACKENDS = {"local": LocalStorage, "s3": S3Storage}
SCHEMES = {"file": LocalStorage, "s3": S3Storage}


@lru_cache(maxsize=4)
def s3_client(endpoint_url: str, region: str, pid: int):
    """One boto3 client per endpoint and process (clients are thread-safe, not fork-safe). boto3 is
    imported here so that the local backend does not need it."""
    import boto3
    from botocore.config import Config

    # Bounded waits, so an unreachable S3 fails an upload (503) in seconds rather than minutes.
    config = Config(connect_timeout=10, read_timeout=60, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config)


@contextmanager
def s3_errors(what: str):
    """boto3's and botocore's errors as StorageError, which the tasks report on the job."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (Boto3Error, BotoCoreError, ClientError) as exc:
        raise StorageError(f"{what} failed: {exc}") from exc
