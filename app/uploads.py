"""Receive a video upload without holding it in memory: multipart files and raw bodies both stream
into a HashingUpload (temp file in UPLOAD_DIR, sha256 while streaming, size limit while reading).
The size limit is the MAX_UPLOAD_BYTES of the app's settings (`app.context`); where the temp file
and the stored upload go is brigade.uploads' and brigade.storage's business (the process-wide settings)."""

from __future__ import annotations

from flask import Request, request
from werkzeug.exceptions import RequestEntityTooLarge

from app import context
from app.errors import ApiError
from brigade.uploads import HashingUpload, UploadTooLarge

FIELD = "video"
RAW_TYPES = ("video/", "application/octet-stream")


class StreamingRequest(Request):
    """Werkzeug calls `_get_file_stream` for each multipart file part: hand it a HashingUpload."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return _tracked_upload(self.environ)


def _tracked_upload(environ) -> HashingUpload:
    """A new HashingUpload, listed on the request so its teardown discards it if never committed."""
    upload = HashingUpload(limit=context.settings().MAX_UPLOAD_BYTES)
    environ.setdefault("brigade.uploads", []).append(upload)
    return upload


def discard_uncommitted(environ) -> None:
    for upload in environ.get("brigade.uploads", []):
        if upload.path.exists():
            upload.discard()


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "upload-too-large", f"the upload exceeds MAX_UPLOAD_BYTES={limit} bytes", limit_bytes=limit)


def receive_upload() -> tuple[HashingUpload, str]:
    """The streamed upload and the client's name for it (a label only: how the file is stored and
    read back comes from its probed container); ApiError when absent or too big."""
    content_type = request.mimetype or ""
    try:
        if content_type == "multipart/form-data":
            files = request.files
            if FIELD not in files:
                raise ApiError(400, "missing-field", f"multipart body has no '{FIELD}' file field",
                               # a part whose Content-Disposition has no readable name has the name None
                               fields=sorted(k for k in files.keys() if k is not None)
                               + sorted(k for k in request.form.keys() if k is not None))
            storage = files[FIELD]
            upload = storage.stream
            if not isinstance(upload, HashingUpload):  # werkzeug keeps tiny parts in memory
                upload = _spool(storage.stream)
            filename = storage.filename or "upload"
        elif content_type.startswith(RAW_TYPES):
            upload = _spool(request.stream)
            filename = "upload"
        else:
            raise ApiError(415, "unsupported-media-type",
                           f"send multipart/form-data with a '{FIELD}' file field, or a raw body with a video/* "
                           f"content type; got {content_type or 'none'!r}")
    except UploadTooLarge as exc:
        raise _too_large(exc.limit) from exc
    except RequestEntityTooLarge as exc:
        raise _too_large(context.settings().MAX_UPLOAD_BYTES) from exc
    if upload.size == 0:
        upload.discard()
        raise ApiError(400, "empty-upload", "the upload is empty")
    upload.flush()
    return upload, filename


def _spool(stream) -> HashingUpload:
    return _tracked_upload(request.environ).copy_from(stream)
