"""Helpers of the integration tests: the local stack, generated clips, job polling."""

from __future__ import annotations

from pathlib import Path

import requests

from brigade import procs
from brigade.localstack import LocalStack

Stack = LocalStack


class ClipFactory:
    """Generated, labeled clips, each rendered once per session."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._made: dict = {}

    def clip(self, name: str, **kwargs):
        from models.synth import make_clip

        if name not in self._made:
            path = self.root / f"{name}.mp4"
            self._made[name] = (path, make_clip(path, **kwargs))
        return self._made[name]


def submit(api: str, path: Path, **params) -> requests.Response:
    with open(path, "rb") as fh:
        return requests.post(f"{api}/v1/videos", files={"video": (path.name, fh, "video/mp4")}, params=params, timeout=60)


def wait_job(api: str, job_id: str, timeout: float = 120.0) -> dict:
    """Poll with ?wait= until the job is terminal."""
    def _done():
        body = requests.get(f"{api}/v1/jobs/{job_id}", params={"wait": 5}, timeout=30).json()
        return body if body["status"] in ("succeeded", "failed") else None

    return procs.wait_until(_done, timeout, interval=0, what=f"job {job_id}")


def tag_labels(body: dict) -> set[str]:
    return {t["label"] for t in body["result"]["tags"]}
