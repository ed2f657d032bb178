"""`python -m devtools.settings_doc [--write]` (`make docs`): the markdown table of every setting;
`--write` puts it into the README between its settings markers and regenerates `.env.example` and
`docs/SETTINGS.md` (the settings by section, with their values in the containers). Tests keep all
three in step with brigade/settings.py."""

from __future__ import annotations

import re
import sys

from brigade.settings import ROOT, describe
from devtools.readme import replace_between

README = ROOT / "README.md"
ENV_EXAMPLE = ROOT / ".env.example"
SETTINGS_DOC = ROOT / "docs" / "SETTINGS.md"
SETTINGS_SOURCE = ROOT / "brigade" / "settings.py"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def _format_default(value) -> str:
    """A default as a user writes it in the environment (`true`, paths relative to the repo)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace(str(ROOT), "<repo>")


def _default(value: object) -> str:
    text = _format_default(value)
    return f"`{text}`" if text != "" else "(empty)"


def table(settings: list[tuple[str, object, str]] | None = None) -> str:
    """The README's table: every setting (or those given), its default and meaning."""
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    rows += [f"| `{name}` | {_default(default)} | {help_text} |" for name, default, help_text in settings or describe()]
    return "\n".join(rows)


_SECTION = re.compile(r"^\s*# --- (.+?) -+\s*$")
_FIELD = re.compile(r"^\s*([A-Z][A-Z0-9_]*)\s*:")


def sections() -> list[tuple[str, list[tuple[str, object, str]]]]:
    """describe()'s settings grouped under the `# --- name ---` comments that head them in
    brigade/settings.py, in their order there."""
    section_of, current = {}, "Settings"
    for line in SETTINGS_SOURCE.read_text().splitlines():
        if match := _SECTION.match(line):
            current = match.group(1)[:1].upper() + match.group(1)[1:]
        elif match := _FIELD.match(line):
            section_of.setdefault(match.group(1), current)
    groups: dict[str, list] = {}
    for setting in describe():
        groups.setdefault(section_of.get(setting[0], "Settings"), []).append(setting)
    return list(groups.items())


# --- .env.example ------------------------------------------------------------------------------

#: Variables of the deployment files that are not Brigade settings: name -> (example, help).
DEPLOY_VARS = {
    "REDIS_PASSWORD": ("", "Password of the compose `redis` service, in every service's REDIS_URL: required; "
                       "hex or URL-safe characters (`openssl rand -hex 32`)."),
    "COMPOSE_PROFILES": ("cpu", "Compose profile of the segments pool: `cpu` (CPU fallback) or `gpu` (NVIDIA GPU)."),
    "BRIGADE_IMAGE": ("brigade", "Image name the services run (and build)."),
    "BRIGADE_TAG": ("cpu", "Tag of the CPU image (Dockerfile, TORCH_VARIANT=cpu)."),
    "BRIGADE_CUDA_TAG": ("cuda", "Tag of the CUDA image of worker-gpu (TORCH_VARIANT=cuda)."),
    "GPU_DEVICE": ("0", "GPU (index or UUID) that worker-gpu reserves; one container per GPU."),
    "API_PORT": ("8000", "Host port of the API."),
    "API_WORKERS": ("2", "gunicorn worker processes of the API (app/gunicorn_conf.py)."),
    "API_THREADS": ("16", "Threads per gunicorn worker; each `?wait=` request holds one."),
    "API_HEADER_TIMEOUT_S": ("5", "Seconds a request's head may take to arrive (read by the worker's event loop, "
                                  "app/gunicorn_worker.py); slower clients are cut off."),
}
#: Settings whose value in the containers is not their default: value, and who sets it.
CONTAINER_VALUES = {
    "REDIS_URL": ("redis://:${REDIS_PASSWORD}@redis:6379/0", "docker-compose.yml uses this unless you set it"),
    "UPLOAD_DIR": ("/data/uploads", "fixed by docker-compose.yml: the uploads volume"),
    "MODEL_STORE": ("/app/models/store", "fixed by docker-compose.yml: the models volume"),
    "WORKER_CACHE_DIR": ("/data/video-cache", "set by the image"),
    "FFMPEG_BINARY": ("/usr/bin/ffmpeg", "set by the image: Debian's ffmpeg"),
}
NOTES = {
    "PREDICT_REPLICAS": "docker compose: replicas of worker-predict, 3 when unset",
    "EVENTS_MAX": "docker compose: --autoscale=EVENTS_MAX,0 of worker-events, 8 when unset",
    "FLOWER_PASSWORD": "required by docker compose",
    "OPERATOR_TOKEN": "docker compose: passed to the api; Prometheus sends it (docs/DEPLOY.md)",
}
#: Variables .env must set for docker compose: written uncommented (and empty) in .env.example.
REQUIRED = ("REDIS_PASSWORD", "FLOWER_PASSWORD")


def env_example() -> str:
    lines = [
        "# Brigade: the settings of brigade/settings.py and the knobs of docker-compose.yml.",
        "# Copy to .env and set REDIS_PASSWORD and FLOWER_PASSWORD. A line left commented (#NAME=value) keeps its default.",
        "# Generated from brigade.settings.describe(): `make docs` (`python -m devtools.settings_doc --write`)",
        "# rewrites it, the README's table and docs/SETTINGS.md; tests/test_deploy_files.py fails when it is out of date.",
        "",
        "# ---- docker compose (not Brigade settings) ----",
    ]
    for name, (example, help_text) in DEPLOY_VARS.items():
        lines += [f"# {help_text}", f"{name}={example}" if name in ("COMPOSE_PROFILES", *REQUIRED) else f"#{name}={example}"]
    lines += ["", "# ---- Brigade settings (brigade/settings.py) ----"]
    for name, default, help_text in describe():
        note = NOTES.get(name)
        value = _format_default(default)
        if name in CONTAINER_VALUES:
            value, note = CONTAINER_VALUES[name]
        lines.append(f"# {help_text}" + (f" ({note})" if note else ""))
        lines.append(f"{name}=" if name in REQUIRED else f"#{name}={value}")
    return "\n".join(lines) + "\n"


# --- docs/SETTINGS.md ---------------------------------------------------------------------------


def settings_md() -> str:
    """docs/SETTINGS.md: every setting under its section, then where the containers differ."""
    parts = [
        "# Settings",
        "",
        "<!-- Generated from brigade/settings.py by `make docs` (`python -m devtools.settings_doc --write`);",
        "     tests/test_devtools.py fails when it is out of date. Edit the settings module, not this file. -->",
        "",
        "Every setting is an environment variable, read once per process by `brigade.settings.get_settings()`",
        "in the API and the workers alike. The defaults suit `make run` on one machine (`<repo>` is the",
        "checkout). The containers read `.env` (copy `.env.example`), which lists the same settings.",
    ]
    for title, settings in sections():
        parts += ["", f"## {title}", "", table(settings)]
    parts += ["", "## In the containers", "",
              "Where docker-compose.yml or the image give a setting another value, or say more of it:", "",
              "| setting | in the containers |", "|---|---|"]
    for name, _, _ in describe():
        if name in CONTAINER_VALUES:
            value, who = CONTAINER_VALUES[name]
            parts.append(f"| `{name}` | `{value}` ({who}) |")
        elif name in NOTES:
            parts.append(f"| `{name}` | {NOTES[name]} |")
    return "\n".join(parts) + "\n"


def readme_table() -> str:
    match = re.search(f"{re.escape(START)}\n(.*?)\n{re.escape(END)}", README.read_text(), flags=re.S)
    return match.group(1) if match else ""


def write() -> None:
    """Regenerate .env.example, docs/SETTINGS.md and the README's table."""
    ENV_EXAMPLE.write_text(env_example())
    SETTINGS_DOC.write_text(settings_md())
    replace_between(README, START, END, table())


if __name__ == "__main__":
    write() if "--write" in sys.argv else print(table())
