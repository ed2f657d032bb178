"""`python -m brigade.settings_doc [--write]`: the markdown table of every setting; `--write` puts it
into the README between its settings markers and regenerates `.env.example`. Tests keep both in
step with brigade/settings.py."""

from __future__ import annotations

import re
import sys

from brigade.settings import ROOT, describe

README = ROOT / "README.md"
ENV_EXAMPLE = ROOT / ".env.example"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def _format_default(value) -> str:
    """A default as a user writes it in the environment (`true`, paths relative to the repo)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).replace(str(ROOT), "<repo>")


def _default(value: object) -> str:
    text = _format_default(value)
    return f"`{text}`" if text != "" else "(empty)"


def table() -> str:
    rows = ["| setting | default | meaning |", "|---|---|---|"]
    rows += [f"| `{name}` | {_default(default)} | {help_text} |" for name, default, help_text in describe()]
    return "\n".join(rows)


# --- .env.example ------------------------------------------------------------------------------

#: Variables of the deployment files that are not Brigade settings: name -> (example, help).
DEPLOY_VARS = {
    "COMPOSE_PROFILES": ("cpu", "Compose profile of the segments pool: `cpu` (CPU fallback) or `gpu` (NVIDIA GPU)."),
    "BRIGADE_IMAGE": ("brigade", "Image name the services run (and build)."),
    "BRIGADE_TAG": ("cpu", "Tag of the CPU image (Dockerfile, TORCH_VARIANT=cpu)."),
    "BRIGADE_CUDA_TAG": ("cuda", "Tag of the CUDA image of worker-gpu (TORCH_VARIANT=cuda)."),
    "GPU_DEVICE": ("0", "GPU (index or UUID) that worker-gpu reserves; one container per GPU."),
    "API_PORT": ("8000", "Host port of the API."),
    "API_WORKERS": ("2", "gunicorn worker processes of the API (app/gunicorn_conf.py)."),
    "API_THREADS": ("16", "Threads per gunicorn worker; each `?wait=` request holds one."),
}
#: Settings whose value in the containers is not their default: value, and who sets it.
CONTAINER_VALUES = {
    "REDIS_URL": ("redis://redis:6379/0", "docker-compose.yml uses this unless you set it"),
    "UPLOAD_DIR": ("/data/uploads", "fixed by docker-compose.yml: the uploads volume"),
    "MODEL_STORE": ("/app/models/store", "fixed by docker-compose.yml: the models volume"),
    "WORKER_CACHE_DIR": ("/data/video-cache", "set by the image"),
    "FFMPEG_BINARY": ("/usr/bin/ffmpeg", "set by the image: Debian's ffmpeg"),
}
NOTES = {
    "PREDICT_REPLICAS": "docker compose: replicas of worker-predict, 3 when unset",
    "EVENTS_MAX": "docker compose: --autoscale=EVENTS_MAX,0 of worker-events, 8 when unset",
    "FLOWER_PASSWORD": "required by docker compose",
}


def env_example() -> str:
    lines = [
        "# Brigade: the settings of brigade/settings.py and the knobs of docker-compose.yml.",
        "# Copy to .env and set FLOWER_PASSWORD. A line left commented (#NAME=value) keeps its default.",
        "# Generated from brigade.settings.describe(): `python -m brigade.settings_doc --write`",
        "# rewrites it (and the README's table); tests/test_deploy_files.py fails when it is out of date.",
        "",
        "# ---- docker compose (not Brigade settings) ----",
    ]
    for name, (example, help_text) in DEPLOY_VARS.items():
        lines += [f"# {help_text}", f"{name}={example}" if name == "COMPOSE_PROFILES" else f"#{name}={example}"]
    lines += ["", "# ---- Brigade settings (brigade/settings.py) ----"]
    for name, default, help_text in describe():
        note = NOTES.get(name)
        value = _format_default(default)
        if name in CONTAINER_VALUES:
            value, note = CONTAINER_VALUES[name]
        lines.append(f"# {help_text}" + (f" ({note})" if note else ""))
        lines.append(f"{name}=" if name == "FLOWER_PASSWORD" else f"#{name}={value}")
    return "\n".join(lines) + "\n"


def readme_table() -> str:
    match = re.search(f"{re.escape(START)}\n(.*?)\n{re.escape(END)}", README.read_text(), flags=re.S)
    return match.group(1) if match else ""


def write_readme() -> None:
    ENV_EXAMPLE.write_text(env_example())
    text = README.read_text()
    README.write_text(re.sub(f"{re.escape(START)}.*?{re.escape(END)}", lambda _: f"{START}\n{table()}\n{END}", text, flags=re.S))


if __name__ == "__main__":
    write_readme() if "--write" in sys.argv else print(table())
