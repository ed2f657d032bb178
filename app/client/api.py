"""HTTP side of the client: a streamed multipart upload that reports its progress, job
long-polling, and the API's problem bodies (`application/problem+json`) turned into exceptions
that carry the CLI's exit code."""

from __future__ import annotations

import io
import mimetypes
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

import requests

TERMINAL = ("succeeded", "failed")
USER_AGENT = "brigade-cli/1"


class ClientError(Exception):
    """Anything that ends the command; `exit_code` is what the process exits with."""

    exit_code = 1


class ApiProblem(ClientError):
    """The API answered with an error status (a problem body, or whatever a proxy sent instead)."""

    def __init__(self, status: int, title: str, detail: str, *, code: str = "", retry_after: str | None = None,
                 errors: list | None = None):
        self.status, self.title, self.detail, self.code = status, title, detail, code
        self.retry_after, self.errors = retry_after, errors or []
        super().__init__(self.message())

    @classmethod
    def from_response(cls, response: requests.Response) -> ApiProblem:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):  # not a problem body: an HTML error page of a proxy, say
            text = " ".join(response.text.split())[:300]
            return cls(response.status_code, response.reason or "error", text or "(empty body)",
                       retry_after=response.headers.get("Retry-After"))
        code = str(body.get("type") or "").rsplit("/", 1)[-1]
        errors = body.get("errors") if isinstance(body.get("errors"), list) else []
        return cls(response.status_code, str(body.get("title") or response.reason or "error"),
                   str(body.get("detail") or ""), code=code, retry_after=response.headers.get("Retry-After"),
                   errors=errors)

    def message(self) -> str:
        lines = [f"{self.status} {self.title}" + (f" ({self.code})" if self.code else "") + (f": {self.detail}" if self.detail else "")]
        if len(self.errors) > 1:  # the detail joins them; one per line reads better
            lines += [f"  - {e.get('field') or 'body'}: {e.get('detail')}" for e in self.errors if isinstance(e, dict)]
        if self.retry_after:
            lines.append(f"retry after {self.retry_after} s")
        return "\n".join(lines)


class Unreachable(ClientError):
    """No answer: connection refused, DNS, TLS, or a request that ran past --timeout."""

    exit_code = 3


class JobFailed(ClientError):
    def __init__(self, body: dict):
        self.body = body
        error = body.get("error") or {}
        kind = error.get("type") if isinstance(error, dict) else None
        detail = error.get("detail") if isinstance(error, dict) else error
        super().__init__(f"job {body.get('job_id')} failed" + (f" ({kind})" if kind else "") + f": {detail or 'no detail given'}")


class MultipartFile:
    """A multipart/form-data body of one file field, read from disk while it is sent: `len()` is
    its exact size (so requests sends a Content-Length, which the API checks before reading), and
    every `read` reports the file bytes handed over so far to `on_read(sent, total)`."""

    def __init__(self, path: Path, field: str, on_read: Callable[[int, int], None] | None = None):
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        name = path.name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
        part_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                f"Content-Type: {part_type}\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        self.file_size = os.path.getsize(path)
        self._file = open(path, "rb")  # closed by close(), once the request is over
        self._parts = [io.BytesIO(head), self._file, io.BytesIO(tail)]
        self._length = len(head) + self.file_size + len(tail)
        self._on_read, self._reported = on_read, 0

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        out = b""
        while self._parts and (size < 0 or len(out) < size):
            chunk = self._parts[0].read(-1 if size < 0 else size - len(out))
            if not chunk:
                self._parts.pop(0)
                continue
            out += chunk
        if self._on_read and self._file.tell() != self._reported:
            self._reported = self._file.tell()
            self._on_read(self._reported, self.file_size)
        return out

    def close(self) -> None:
        self._file.close()


class Api:
    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 30.0,
                 session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        if api_key:
            self.session.headers["X-API-Key"] = api_key

    def request(self, method: str, path: str, *, extra_timeout: float = 0.0, **kwargs) -> requests.Response:
        """The response of a 2xx answer; ApiProblem for an error status, Unreachable for no answer."""
        url = self.base_url + path
        try:
            response = self.session.request(method, url, timeout=self.timeout + extra_timeout, **kwargs)
        except requests.Timeout as exc:
            raise Unreachable(f"no answer from {self.base_url} within {self.timeout + extra_timeout:g} s ({method} {path})") from exc
        except requests.RequestException as exc:
            raise Unreachable(f"cannot reach the API at {self.base_url}: {_reason(exc)}") from exc
        if response.status_code >= 400:
            raise ApiProblem.from_response(response)
        return response

    def submit_video(self, path: Path, *, mode: str = "auto", fast: bool = False, features: tuple[str, ...] = (),
                     on_read: Callable[[int, int], None] | None = None) -> dict:
        """POST /v1/videos with the file streamed as the multipart field `video`; the 202 body.
        No `features`: the API's default (labels)."""
        body = MultipartFile(path, "video", on_read)
        params = {"mode": mode, **({"fast": "1"} if fast else {}), **({"features": ",".join(features)} if features else {})}
        try:
            return self.request("POST", "/v1/videos", params=params, data=body,
                                headers={"Content-Type": body.content_type}).json()
        finally:
            body.close()

    def job(self, job_id: str, wait: float = 0.0) -> dict:
        """GET /v1/jobs/<id>, held by the API up to `wait` seconds for a terminal status."""
        params = {"wait": f"{wait:g}"} if wait else {}
        return self.request("GET", f"/v1/jobs/{job_id}", params=params, extra_timeout=wait).json()

    def wait_job(self, job_id: str, on_update: Callable[[dict], None] | None = None, poll_s: float = 2.0) -> dict:
        """Long-poll the job until it is terminal (each poll returns at once when it is); its body.
        `on_update` sees every body on the way, for progress."""
        while True:
            body = self.job(job_id, wait=poll_s)
            if on_update:
                on_update(body)
            if body.get("status") in TERMINAL:
                return body

    def hotel_prices(self, query: dict) -> tuple[int, dict]:
        """POST /v1/hotel-prices: (200, hotels) or (202, the job to follow)."""
        response = self.request("POST", "/v1/hotel-prices", json=query)
        return response.status_code, response.json()


def _reason(exc: requests.RequestException) -> str:
    """Why a request got no answer, without urllib3's wrappers (`[Errno 111] Connection refused`)."""
    reason = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc
    reason = getattr(reason, "reason", None) or reason  # urllib3's MaxRetryError -> NewConnectionError
    return re.sub(r"^(<[^>]*>|\w+\([^)]*\)): ", "", str(reason))  # the connection object's repr
