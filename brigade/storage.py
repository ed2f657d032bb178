"""Upload storage: an upload (streamed and hashed by `brigade.uploads`) is stored under a content
address, `<sha256>.<ext>`, by the backend STORAGE_BACKEND names:

* `local`: renamed atomically into UPLOAD_DIR, a directory every worker must see
  (`file:///…/<sha256>.<ext>`).
* `s3`: uploaded to `s3://<S3_BUCKET>/<S3_PREFIX><sha256>.<ext>` (skipped when that object already
  exists), for pods that share no disk; the local temp file is then removed.

Messages carry the URI, never bytes. A worker resolves it with `local_path()`, which picks the
backend by the URI's scheme, whatever STORAGE_BACKEND says: a `file://` path must lie in UPLOAD_DIR;
an `s3://` object must be in the configured bucket and prefix and is downloaded once into
WORKER_CACHE_DIR (`brigade.upload_cache`: its bytes checked against the sha256 of its name; the
least recently used videos go beyond WORKER_CACHE_MAX_BYTES). The same bytes uploaded twice get the
same URI. Retention of the `local` backend's uploads: `brigade.retention`.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlparse

from brigade.settings import Settings, get_settings
from brigade.upload_cache import UploadCache

#: `<sha256>.<ext>`: the only object names an `s3://` URI may end with (no `/`, no `..`).
CONTENT_NAME = re.compile(r"(?P<sha256>[0-9a-f]{64})\.[a-z0-9]{1,8}")


class StorageError(Exception):
    pass


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
        self.cache = UploadCache(Path(settings.WORKER_CACHE_DIR), settings.WORKER_CACHE_MAX_BYTES)
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

        def download(temp: str) -> None:
            with s3_errors(f"download of {uri!r}"):
                self.client.download_file(self.bucket, self.prefix + name, temp)

        path = self.cache.get(name) or self.cache.fill(name, download, CONTENT_NAME.fullmatch(name)["sha256"])
        if path is None:
            raise StorageError(f"{uri!r}: the downloaded bytes do not hash to the sha256 of the name")
        return path

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
