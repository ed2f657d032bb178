"""`python -m devtools.settings_doc [--write]` (`make docs`): the markdown table of every setting;
`--write` puts it into the README between its settings markers and regenerates `.env.example`,
`docs/SETTINGS.md` (the settings by section, with their values in the containers) and the
`x-settings` list of docker-compose.yml (the settings every Brigade container is given). Tests
keep all four in step with brigade/settings.py."""

from __future__ import annotations

import re
import sys

from brigade.settings import ROOT, describe, secret_names
from devtools.readme import replace_between

README = ROOT / "README.md"
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_FILE = ROOT / "docker-compose.yml"
SETTINGS_DOC = ROOT / "docs" / "SETTINGS.md"
SETTINGS_SOURCE = ROOT / "brigade" / "settings.py"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"
COMPOSE_START, COMPOSE_END = "# settings:start", "# settings:end"
#: Settings docker-compose.yml sets itself (the volumes' paths), not from .env.
COMPOSE_FIXED = ("UPLOAD_DIR", "MODEL_STORE")


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
    "AWS_ACCESS_KEY_ID": ("", "With STORAGE_BACKEND=s3: the bucket's credentials (boto3), given to the API and the "
                              "video workers only; unset: boto3 looks elsewhere (a role)."),
    "AWS_SECRET_ACCESS_KEY": ("", "With STORAGE_BACKEND=s3: the secret of AWS_ACCESS_KEY_ID."),
    "PIP_INDEX_URL": ("https://pypi.org/simple", "Image build: the Python package index (a mirror's simple index)."),
    "TORCH_INDEX_URL": ("https://download.pytorch.org/whl", "Image build: where the torch wheel comes from, laid out as "
                                                             "download.pytorch.org/whl (`<url>/cpu/`, `<url>/cu128/`)."),
}
#: Settings whose value in the containers is not their default: value, and who sets it.
CONTAINER_VALUES = {
    "REDIS_URL": ("redis://:${REDIS_PASSWORD}@redis:6379/0", "docker-compose.yml uses this unless you set it"),
    "UPLOAD_DIR": ("/data/uploads", "fixed by docker-compose.yml: the uploads volume"),
    "MODEL_STORE": ("/app/models/store", "fixed by docker-compose.yml: the models volume"),
    "WORKER_CACHE_DIR": ("/data/video-cache", "set by the image"),
    "FFMPEG_BINARY": ("/usr/bin/ffmpeg", "set by the image: Debian's ffmpeg"),
}
#: More to say of a setting in the containers. Where docker-compose.yml gives it another default
#: (`${NAME:-default}`), .env.example shows that one and the note says so (compose_defaults()).
NOTES = {
    "PREDICT_REPLICAS": "docker compose: replicas of worker-predict",
    "EVENTS_MAX": "docker compose: --autoscale=EVENTS_MAX,0 of worker-events",
    "FLOWER_PASSWORD": "required by docker compose",
    "OPERATOR_TOKEN": "docker compose: passed to the api; Prometheus sends it (docs/DEPLOY.md)",
}
#: Variables .env must set for docker compose: written uncommented (and empty) in .env.example.
REQUIRED = ("REDIS_PASSWORD", "FLOWER_PASSWORD")


def compose_defaults(text: str | None = None) -> dict[str, str]:
    """NAME -> default of every `${NAME:-default}` in docker-compose.yml (a default may itself hold
    `${...}`): what a container gets while .env leaves NAME unset. `$${` is compose's escaped `$`."""
    text = COMPOSE_FILE.read_text() if text is None else text
    found: dict[str, str] = {}
    for match in re.finditer(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*):-", text):
        depth, end = 1, match.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        default = text[match.end():end - 1]
        if found.setdefault(match.group(1), default) != default:
            raise ValueError(f"docker-compose.yml gives {match.group(1)} two defaults: {found[match.group(1)]!r}, {default!r}")
    return found


def container_value(name: str, default: object) -> tuple[str, str | None]:
    """A setting's value in the containers as .env.example shows it, and what to say of it."""
    if name in CONTAINER_VALUES:
        return CONTAINER_VALUES[name]
    value, note = _format_default(default), NOTES.get(name)
    compose = compose_defaults().get(name)
    if compose is not None and compose != value:
        note = f"{note or 'docker compose'}, `{compose}` when unset; the setting's own default, `{value}`, is `make run`'s"
        value = compose
    return value, note


def env_example() -> str:
    lines = [
        "# Brigade: the settings of brigade/settings.py and the knobs of docker-compose.yml.",
        "# Copy to .env and set REDIS_PASSWORD and FLOWER_PASSWORD. A line left commented (#NAME=value) keeps its default.",
        "# docker compose gives every Brigade container the settings set here, and each secret only to the services that use it.",
        "# Generated from brigade.settings.describe(): `make docs` (`python -m devtools.settings_doc --write`)",
        "# rewrites it, the README's table and docs/SETTINGS.md; tests/test_deploy_files.py fails when it is out of date.",
        "",
        "# ---- docker compose (not Brigade settings) ----",
    ]
    for name, (example, help_text) in DEPLOY_VARS.items():
        lines += [f"# {help_text}", f"{name}={example}" if name in ("COMPOSE_PROFILES", *REQUIRED) else f"#{name}={example}"]
    lines += ["", "# ---- Brigade settings (brigade/settings.py) ----"]
    for name, default, help_text in describe():
        value, note = container_value(name, default)
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
        "checkout). docker compose takes them from `.env` (copy `.env.example`, which lists the same settings)",
        "and gives each container those it names: every setting, but a secret only to the services that use it.",
    ]
    for title, settings in sections():
        parts += ["", f"## {title}", "", table(settings)]
    parts += ["", "## In the containers", "",
              "Where docker-compose.yml or the image give a setting another value, or say more of it:", "",
              "| setting | in the containers |", "|---|---|"]
    for name, default, _ in describe():
        value, note = container_value(name, default)
        if name in CONTAINER_VALUES:
            parts.append(f"| `{name}` | `{value}` ({note}) |")
        elif note:
            parts.append(f"| `{name}` | {note} |")
    return "\n".join(parts) + "\n"


# --- docker-compose.yml ---------------------------------------------------------------------------


def compose_settings() -> str:
    """docker-compose.yml's `x-settings`: every setting that is no secret, a section a paragraph.
    Named without a value, each takes its value from .env (or the shell) and stays unset when they
    do not set it; secrets are named by the services that use them (no `env_file`)."""
    paragraphs = []
    for _, settings in sections():
        names = [name for name, _, _ in settings if name not in secret_names() and name not in COMPOSE_FIXED]
        lines, line = [], ""
        for name in names:
            if line and len(line) + len(name) > 110:
                lines.append(line.rstrip())
                line = ""
            line += f"{name}, "
        if names:
            paragraphs.append("\n".join(f"  {text}" for text in [*lines, line.rstrip(", ")]))
    return "x-settings: &settings {\n" + ",\n".join(paragraphs) + "\n}"


def compose_settings_in_file() -> str:
    match = re.search(f"{re.escape(COMPOSE_START)}\n(.*?)\n{re.escape(COMPOSE_END)}", COMPOSE_FILE.read_text(), flags=re.S)
    return match.group(1) if match else ""


def readme_table() -> str:
    match = re.search(f"{re.escape(START)}\n(.*?)\n{re.escape(END)}", README.read_text(), flags=re.S)
    return match.group(1) if match else ""


def write() -> None:
    """Regenerate .env.example, docs/SETTINGS.md, the README's table and compose's x-settings."""
    ENV_EXAMPLE.write_text(env_example())
    SETTINGS_DOC.write_text(settings_md())
    replace_between(README, START, END, table())
    replace_between(COMPOSE_FILE, COMPOSE_START, COMPOSE_END, compose_settings())


if __name__ == "__main__":
    write() if "--write" in sys.argv else print(table())
