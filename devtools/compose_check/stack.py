"""The stack of docker-compose.yml under a project of its own (`brigade-check`: its own containers,
network and volumes; the repository's .env is not read), driven through its published API port.

What it is given: an env file of its own (mode 0600: generated passwords, an API key, the torch
index of the build) and one override file, which builds the image on the host's network (our
dockerd has no NAT) and nothing else. Everything it reports is read from the engine (`docker
inspect`, `compose ps`), the API, or Redis inside its container.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import requests

from brigade.settings import ROOT, secret_names
from devtools import procs
from devtools.compose_check.engine import Engine, run
from devtools.run_stack import write_private

PROJECT = "brigade-check"
OVERRIDE = """\
# make compose-check: the image build uses the host's network (our dockerd makes no NAT rule).
services:
  api:
    build:
      network: host
"""
#: The secrets of the deployment that are not settings (tests/test_deploy_files.py has who uses each).
DEPLOY_SECRETS = {"REDIS_PASSWORD", "REDISCLI_AUTH", "FLOWER_BASIC_AUTH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}


class Stack:
    def __init__(self, engine: Engine, work: Path, torch_index_url: str | None):
        self.engine = engine
        self.work = work
        self.api_port = procs.free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.key = f"compose-check-{secrets.token_hex(8)}"
        env = {"REDIS_PASSWORD": secrets.token_hex(32), "FLOWER_PASSWORD": secrets.token_hex(16),
               "OPERATOR_TOKEN": secrets.token_hex(16), "WEBHOOK_SIGNING_SECRET": secrets.token_hex(32),
               "API_KEYS": f"{self.key}:premium", "COMPOSE_PROFILES": "cpu", "API_PORT": str(self.api_port)}
        if torch_index_url:
            env["TORCH_INDEX_URL"] = torch_index_url
        self.env_file, override = work / "check.env", work / "build-on-host-network.yml"
        write_private(self.env_file, "".join(f"{k}={v}\n" for k, v in env.items()))
        override.write_text(OVERRIDE)
        self.argv = [*engine.compose_argv(), "--project-name", PROJECT, "--project-directory", str(ROOT),
                     "--file", str(ROOT / "docker-compose.yml"), "--file", str(override), "--env-file", str(self.env_file)]

    def compose(self, *args: str, **options):
        return run([*self.argv, *args], self.engine.env, **options)

    # --- life cycle ---------------------------------------------------------------------------------

    def build(self) -> list[str]:
        """`compose build`: which services built an image (one per image: the api's), the images,
        and how many dangling ones there are (a rebuilt tag leaves its previous image dangling)."""
        dangling = self._dangling()
        output = self.compose("build").stdout
        builders = sorted(set(re.findall(r"\[(\S+)\] exporting to image", output)))  # BuildKit's progress lines
        images = self.engine.docker("image", "ls", "--filter", "reference=brigade", "--format",
                                    "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}", quiet=True).stdout.split("\n")
        return [f"services that built an image: {builders or 'see the build output'}", *filter(None, images),
                f"dangling images: {dangling} before the build, {self._dangling()} after"]

    def _dangling(self) -> int:
        out = self.engine.docker("image", "ls", "--quiet", "--filter", "dangling=true", quiet=True).stdout
        return len(out.split())

    def up(self, timeout: float) -> list[str]:
        """`up -d`, then wait until every service is healthy; returns each container's state."""
        self.compose("up", "--detach", "--no-build")
        began = time.monotonic()
        procs.wait_until(lambda: all(c["Health"] == "healthy" for c in self.containers()), timeout, 10,
                         what="every service healthy")
        return [f"healthy after {time.monotonic() - began:.0f} s"] + [f"{c['Service']}: {c['State']}, {c['Health']}"
                                                                        for c in self.containers()]

    def containers(self, service: str | None = None) -> list[dict]:
        out = self.compose("ps", "--all", "--format", "json", *([service] if service else []), quiet=True).stdout.strip()
        rows = json.loads(out) if out.startswith("[") else [json.loads(line) for line in out.splitlines() if line]
        return sorted(rows, key=lambda c: c["Name"])

    def inspect(self, container: str) -> dict:
        return json.loads(self.engine.docker("inspect", container, quiet=True).stdout)[0]

    def down(self) -> str:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "30", check=False)
        self.env_file.unlink(missing_ok=True)  # the passwords of a stack that is gone
        return "stack down (containers, network and volumes of the project removed, its env file deleted)"

    # --- observations ----------------------------------------------------------------------------

    def secrets_by_container(self) -> list[str]:
        """Which secrets each container's environment holds (names only), and how many settings."""
        watched = secret_names() | DEPLOY_SECRETS
        lines = []
        for c in self.containers():
            env = self.inspect(c["Name"])["Config"]["Env"]
            names = {item.split("=", 1)[0] for item in env if "=" in item}
            bare = sorted(item for item in env if "=" not in item)
            lines.append(f"{c['Service']}: secrets {sorted(names & watched) or 'none'}; {len(names)} variables"
                         + (f"; {len(bare)} without a value" if bare else ""))
        return lines

    def redis_cli(self, *args: str) -> str:
        return self.compose("exec", "-T", "redis", "redis-cli", "--no-auth-warning", *args, quiet=True).stdout

    def running_tasks(self) -> list[dict]:
        """The `running` records of the workers (worker/tracking.py), read in the Redis container."""
        lines = self.redis_cli("hgetall", "brigade:running").splitlines()
        return [json.loads(value) for value in lines[1::2]]

    def logs(self, *services: str) -> str:
        return self.compose("logs", "--no-color", *services, quiet=True, check=False).stdout

    # --- the API -----------------------------------------------------------------------------------

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(f"{self.api}{path}", params=params, headers={"X-API-Key": self.key}, timeout=60)

    def post_video(self, clip: Path, mode: str, features: str | None = None) -> requests.Response:
        params = {"mode": mode, **({"features": features} if features else {})}
        with open(clip, "rb") as fh:
            return requests.post(f"{self.api}/v1/videos", params=params, headers={"X-API-Key": self.key},
                                 files={"video": (clip.name, fh, "video/mp4")}, timeout=300)

    def post_hotel(self, body: dict) -> requests.Response:
        return requests.post(f"{self.api}/v1/hotel-prices", json=body, headers={"X-API-Key": self.key}, timeout=60)
