"""The torch wheel for the image build of `make compose-check` when download.pytorch.org is out of
reach: the CPU wheel that requirements.txt pins, found in this machine's wheel folders
(PIP_FIND_LINKS), served on loopback in the layout of download.pytorch.org/whl, so the
Dockerfile's TORCH_INDEX_URL build argument can point at it (the build uses the host's network).
"""

from __future__ import annotations

import functools
import os
import re
import threading
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from brigade.settings import ROOT

PUBLIC_INDEX = "https://download.pytorch.org/whl/cpu/torch/"
PORT = 38917


def reachable(url: str = PUBLIC_INDEX, timeout: float = 5.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except (urllib.error.URLError, OSError):
        return False


def pinned_torch() -> str:
    """The version requirements.txt pins (torch==X)."""
    return re.search(r"^torch==(\S+)", (ROOT / "requirements.txt").read_text(), re.M).group(1)


def local_wheel(version: str) -> Path | None:
    """A CPU wheel of torch `version` for CPython 3.11 on x86-64 Linux in a PIP_FIND_LINKS folder."""
    for folder in os.environ.get("PIP_FIND_LINKS", "").split():
        for wheel in sorted(Path(folder).glob(f"torch-{version}+cpu-cp311-cp311-manylinux*_x86_64.whl")):
            return wheel
    return None


class LoopbackIndex:
    """`<url>/cpu/torch/` listing one wheel, served from a folder of links by a thread; stop() ends it."""

    def __init__(self, wheel: Path, root: Path):
        page = root / "cpu" / "torch"
        page.mkdir(parents=True, exist_ok=True)
        link = page / wheel.name
        if not link.exists():
            link.symlink_to(wheel)
        (page / "index.html").write_text(f'<html><body><a href="{quote(wheel.name)}">{wheel.name}</a></body></html>\n')
        handler = functools.partial(_QuietHandler, directory=str(root))
        try:  # the same URL every run: it is a build argument, and a new value would void the build's cache
            self.server = ThreadingHTTPServer(("127.0.0.1", PORT), handler)
        except OSError:
            self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="torch-index", daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *_):  # pip's requests are not news
        pass


def torch_index(work: Path) -> tuple[str | None, LoopbackIndex | None, str]:
    """(TORCH_INDEX_URL for the build or None for the Dockerfile's default, the server to stop, what was chosen)."""
    if os.environ.get("TORCH_INDEX_URL"):
        return os.environ["TORCH_INDEX_URL"], None, f"TORCH_INDEX_URL from the environment: {os.environ['TORCH_INDEX_URL']}"
    if reachable():
        return None, None, "download.pytorch.org answers: the Dockerfile's default index"
    version = pinned_torch()
    wheel = local_wheel(version)
    if wheel is None:
        raise RuntimeError(f"download.pytorch.org is out of reach and no torch-{version}+cpu wheel is in PIP_FIND_LINKS: "
                           "set TORCH_INDEX_URL to a mirror laid out as download.pytorch.org/whl")
    index = LoopbackIndex(wheel, work / "torch-index")
    return index.url, index, f"download.pytorch.org is out of reach: {wheel.name} served at {index.url}/cpu/torch/"
