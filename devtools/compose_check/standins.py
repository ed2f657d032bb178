"""Base images for `make compose-check` where none can be pulled (no registry in reach): stand-ins
built from Debian with debootstrap, under the names the files use, so that the Dockerfile and
docker-compose.yml run unchanged. Each stand-in is labelled as one and announced as such.

- `python:3.11-slim-bookworm` (the Dockerfile's PYTHON_IMAGE): Debian bookworm's Python 3.11 with
  venv and `python` on PATH, as the official image has. It trusts the certificate authorities this
  machine trusts (its CA bundle, for pip: PIP_CERT), since a machine whose registries are out of
  reach may reach PyPI only through a TLS-inspecting proxy of its own.
- `redis:7.4-alpine` (docker-compose.yml, deploy/compose.sentinel.yml): Debian's redis-server
  (7.0) and redis-cli, the `redis` user, /data as the working folder. Not Alpine: its `sh` is
  dash, not BusyBox's; both exec a here-document's command without a fork.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from brigade.settings import ROOT
from devtools.compose_check.engine import Engine, install

SUITE = "bookworm"
BASE = f"brigade-standin/debian:{SUITE}"
LABEL = "org.brigade.compose-check.stand-in"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
#: Dockerfile of each stand-in, by the repository part of the image it stands in for; the files it
#: copies, by name in its build context.
STANDINS = {
    "python": """\
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python-is-python3 ca-certificates \\
    && rm -rf /var/lib/apt/lists/*
COPY host-ca-certificates.crt /etc/ssl/certs/host-ca-certificates.crt
ENV LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/host-ca-certificates.crt
CMD ["python"]
""",
    "redis": """\
RUN apt-get update && apt-get install -y --no-install-recommends redis-server redis-tools \\
    && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
WORKDIR /data
CMD ["redis-server"]
""",
}


def needed() -> list[str]:
    """The images the stack runs or builds from and builds none of: the Dockerfile's PYTHON_IMAGE,
    and every image of the compose files that no service of theirs builds."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    images = re.findall(r"^ARG PYTHON_IMAGE=(\S+)", dockerfile, re.M)
    for path in (ROOT / "docker-compose.yml", ROOT / "deploy" / "compose.sentinel.yml"):
        services = yaml.safe_load(path.read_text())["services"].values()
        images += [s["image"] for s in services if "image" in s and "build" not in s and "$" not in s["image"]]
    return list(dict.fromkeys(images))


def ensure(engine: Engine, work: Path) -> list[str]:
    """Every needed image present: already there, pulled, or a stand-in built here. Returns one
    line per image saying which."""
    report = []
    for image in needed():
        inspect = engine.docker("image", "inspect", "--format", "{{json .Config.Labels}}", image, check=False, quiet=True)
        labels = json.loads(inspect.stdout or "null") or {} if inspect.returncode == 0 else None
        if labels is not None and labels.get(LABEL, _label(image)) == _label(image):
            report.append(f"{image}: present" + (" (a STAND-IN built from Debian by an earlier run)" if LABEL in labels else ""))
        elif labels is None and engine.docker("pull", image, check=False, quiet=True, timeout=600).returncode == 0:
            report.append(f"{image}: pulled")
        else:
            build(engine, image, work)
            why = "its recipe changed" if labels else "it could not be pulled"
            report.append(f"{image}: STAND-IN built from Debian {SUITE} with debootstrap ({why})")
    return report


def _repository(image: str) -> str:
    return image.split(":")[0].rsplit("/", 1)[-1]


def _label(image: str) -> str:
    """The stand-in's label: which recipe made it (a changed recipe builds it again)."""
    recipe = hashlib.sha256(STANDINS.get(_repository(image), "").encode()).hexdigest()[:12]
    return f"{image} stand-in: Debian {SUITE}, make compose-check, recipe {recipe}"


def build(engine: Engine, image: str, work: Path) -> None:
    if _repository(image) not in STANDINS:
        raise RuntimeError(f"{image} cannot be pulled and there is no stand-in for it")
    if engine.docker("image", "inspect", BASE, check=False, quiet=True).returncode != 0:
        import_debian(engine, work / "rootfs")
    print(f"  building a stand-in for {image} from {BASE}", flush=True)
    context = work / f"stand-in-{_repository(image)}"
    context.mkdir(parents=True, exist_ok=True)
    (context / "Dockerfile").write_text(f'FROM {BASE}\nLABEL {LABEL}="{_label(image)}"\n{STANDINS[_repository(image)]}')
    shutil.copyfile(HOST_CA_BUNDLE, context / "host-ca-certificates.crt")
    # The engine's classic builder: the docker CLI may have no buildx plugin for BuildKit.
    engine.docker("build", "--network", "host", "--tag", image, str(context), env={"DOCKER_BUILDKIT": "0"})


def import_debian(engine: Engine, rootfs: Path) -> None:
    """A minimal Debian (debootstrap's minbase) imported as BASE."""
    debootstrap = shutil.which("debootstrap") or str(install("/usr/sbin/debootstrap", ["debootstrap"]))
    shutil.rmtree(rootfs, ignore_errors=True)
    print(f"  debootstrap {SUITE} from {mirror()} (a few minutes)", flush=True)
    subprocess.run([debootstrap, "--variant=minbase", SUITE, str(rootfs), mirror()], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800)
    for deb in (rootfs / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        deb.unlink()
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["docker", "import", "--change", 'CMD ["bash"]', "-", BASE], stdin=tar.stdout, env=engine.env,
                   check=True, stdout=subprocess.DEVNULL, timeout=1800)
    tar.stdout.close()
    if tar.wait() != 0:
        raise RuntimeError("tar of the debootstrap root failed")
    shutil.rmtree(rootfs)


def mirror() -> str:
    """The Debian mirror this host's apt uses (it is in reach), else deb.debian.org."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        if match := re.search(r"^URIs:\s*(\S+/debian)\s*$", sources.read_text(), re.M):
            return match.group(1)
    return DEFAULT_MIRROR
