"""Offline checks of the deployment files: Dockerfile, .dockerignore, .env.example,
docker-compose.yml, deploy/k8s/ and the Redis-with-Sentinel variants of both
(deploy/compose.sentinel.yml, deploy/k8s-sentinel/).

Each file is validated against the real schema of its format (the compose specification through
check-jsonschema, Kubernetes' OpenAPI schemas shipped by kubernetes-validate, KEDA's ScaledObject
CRD schema vendored in tests/schemas/), with a broken copy beside it to show the validator rejects
what it should. Every command line they run is parsed by the real CLI (celery, gunicorn, flower),
must be the process model's command, and must name queues and modules that exist.

`.env.example` is generated from `brigade.settings.describe()`; rewrite it with
`python -m devtools.settings_doc --write`.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from brigade import settings as settings_module
from brigade.settings import ROOT, secret_names
from devtools.settings_doc import COMPOSE_FIXED, DEPLOY_VARS, compose_defaults, compose_settings, compose_settings_in_file, env_example
from worker import queues, work

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
K8S = ROOT / "deploy" / "k8s"
KEDA_SCHEMA = ROOT / "tests" / "schemas" / "keda-scaledobject.json"
SENTINEL_COMPOSE = ROOT / "deploy" / "compose.sentinel.yml"
K8S_SENTINEL = ROOT / "deploy" / "k8s-sentinel"
#: Sentinel's failure detection: at most this long without an answer before a primary is down.
#: With the failover itself this bounds the write outage (docs/DEPLOY.md, "A cluster of hosts").
MAX_DOWN_AFTER_MS = 5000
FAILOVER_WINDOW_S = 15

# The process model (issue 6). `{EVENTS_MAX}` is `${EVENTS_MAX:-8}` in compose, `$(EVENTS_MAX)` in k8s.
POOLS = {
    "predict": "celery -A worker.celery_app worker -Q predict -n predict@%h --pool=prefork --concurrency=1 -E",
    "gpu": "celery -A worker.celery_app worker -Q segments -n gpu@%h --pool=solo -E",
    "control": "celery -A worker.celery_app worker -Q control -n control@%h --pool=threads --concurrency=4 -E",
    "events": "celery -A worker.celery_app worker -Q events -n events@%h --autoscale={EVENTS_MAX},0 -E",
}
API_COMMAND = "gunicorn -c app/gunicorn_conf.py app.wsgi:app"
FLOWER_COMMAND = "celery -A worker.celery_app flower --port=5555"  # its basic auth: FLOWER_BASIC_AUTH in its env
#: The Secrets the pods reference: created by the operator (docs/DEPLOY.md), never shipped in git.
OPERATOR_SECRETS = {
    "brigade-redis": {"REDIS_PASSWORD"},
    "brigade-flower": {"FLOWER_PASSWORD"},
    "brigade-operator": {"OPERATOR_TOKEN"},
    "brigade-webhooks": {"WEBHOOK_SIGNING_SECRET"},
    "brigade-s3": {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"},
}
DEPLOY_DOC = ROOT / "docs" / "DEPLOY.md"
#: The single Redis's command (compose and k8s): requirepass on its stdin from a here-document, so
#: no pipe (a pipeline forks, leaving `sh` as PID 1, which ignores SIGTERM) and no password in argv.
REDIS_SCRIPT = ("exec redis-server - --appendonly yes --maxmemory-policy noeviction <<EOF\n"
                "requirepass $REDIS_PASSWORD\n"
                "EOF\n")
REDIS_HEALTH = "redis-cli ping | grep -q PONG"  # redis-cli exits 0 on NOAUTH: PONG is the answer that counts
COMPOSE_POOLS = {"worker-predict": "predict", "worker-gpu": "gpu", "worker-gpu-cpu": "gpu",
                 "worker-control": "control", "worker-events": "events"}
K8S_POOLS = {"worker-predict": "predict", "worker-gpu": "gpu", "worker-control": "control", "worker-events": "events"}
SCALE_TO_ZERO = {"worker-gpu", "worker-events"}

# --- .env.example ------------------------------------------------------------------------------------

_ENV_LINE = re.compile(r"^#?([A-Z][A-Z0-9_]*)=")


def env_example_names(text: str) -> list[str]:
    return [m.group(1) for line in text.splitlines() if (m := _ENV_LINE.match(line))]


def test_env_example_lists_every_setting_and_nothing_else():
    names = env_example_names(ENV_EXAMPLE.read_text())
    settings = [name for name, _, _ in settings_module.describe()]
    assert len(names) == len(set(names)), "a variable is listed twice"
    assert not set(DEPLOY_VARS) & set(settings), "a deployment variable became a setting: drop it from DEPLOY_VARS"
    missing = sorted(set(settings) - set(names))
    unknown = sorted(set(names) - set(settings) - set(DEPLOY_VARS))
    assert not missing and not unknown, (
        f"settings missing from .env.example: {missing}; not settings nor deployment variables: {unknown}. "
        "Run `python -m devtools.settings_doc --write`.")


def test_env_example_is_the_generated_one():
    assert ENV_EXAMPLE.read_text() == env_example(), (
        ".env.example is stale (a setting's default or help changed): "
        "run `python -m devtools.settings_doc --write`")


def _compose_reads() -> set[str]:
    """The variables docker-compose.yml reads from .env or the shell: `${NAME...}`, and the names
    it passes on by name alone (an environment or build argument without a value)."""
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", COMPOSE.read_text()))
    for service in compose()["services"].values():
        passed = [service.get("environment", {}), (service.get("build") or {}).get("args", {})]
        used |= {name for mapping in passed for name, value in mapping.items() if value is None}
    return used


def test_env_example_names_every_variable_the_compose_file_reads():
    used = _compose_reads()
    listed = set(env_example_names(ENV_EXAMPLE.read_text()))
    assert used, "the compose file reads no variable: the pattern is broken"
    assert used <= listed, f"docker-compose.yml reads variables .env.example does not list: {sorted(used - listed)}"
    gunicorn_conf = (ROOT / "app" / "gunicorn_conf.py").read_text()
    unused = [v for v in DEPLOY_VARS if v not in used and v != "COMPOSE_PROFILES" and f'"{v}"' not in gunicorn_conf]
    assert not unused, f"deployment variables nothing reads: {unused}"


def test_env_example_shows_the_values_compose_runs_with():
    """A commented line of .env.example is what a container gets while it stays commented: where
    docker-compose.yml has its own default (`${NAME:-default}`), .env.example shows that one
    (PREDICT_REPLICAS, EVENTS_MAX: compose's 3 and 8, not `make run`'s 2 and 4)."""
    shown = dict(m.groups() for line in ENV_EXAMPLE.read_text().splitlines() if (m := re.match(r"^#?([A-Z][A-Z0-9_]*)=(.*)$", line)))
    defaults = compose_defaults()
    assert {"PREDICT_REPLICAS", "EVENTS_MAX", "API_PORT"} <= set(defaults)
    differ = {name: (shown[name], default) for name, default in defaults.items() if name in shown and shown[name] != default}
    assert not differ, f".env.example shows other values than compose's defaults (shown, compose): {differ}"
    assert compose_defaults("a: ${A:-x${B}y} $${C:-no} ${D:-}") == {"A": "x${B}y", "D": ""}


# --- docker-compose.yml ---------------------------------------------------------------------------------


@functools.cache
def compose() -> dict:
    """Parsed once and shared: deepcopy before changing it."""
    return yaml.safe_load(COMPOSE.read_text())


def _check_compose_file(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_compose_files_follow_the_compose_specification(tmp_path):
    files = sorted(ROOT.glob("docker-compose*.yml")) + [SENTINEL_COMPOSE]
    assert COMPOSE in files
    for path in files:
        result = _check_compose_file(path)
        assert result.returncode == 0, f"{path.name}:\n{result.stdout}{result.stderr}"
    # The validator rejects a misspelt key: this check can fail.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("    healthcheck:", "    healthchek:", 1))
    result = _check_compose_file(broken)
    assert result.returncode != 0 and "healthchek" in result.stdout


def test_compose_services_have_health_checks_and_wait_for_healthy_dependencies():
    services = compose()["services"]
    expected = {"redis", "api", "flower", *COMPOSE_POOLS}
    assert expected <= set(services), f"missing services: {sorted(expected - set(services))}"
    for name, service in services.items():
        check = service.get("healthcheck", {}).get("test")
        assert check and check[0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}: {condition}"
            assert dependency in services
    assert "redis" in services["api"]["depends_on"] and "redis" in services["worker-predict"]["depends_on"]
    assert services["redis"]["healthcheck"]["test"] == ["CMD-SHELL", REDIS_HEALTH]
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])


def _check_redis_server_is_execd(where: str, script: str, *, run: bool = True) -> None:
    """redis-server must be PID 1 of its container: the shell execs it, outside any pipeline (a
    pipeline forks, and the `sh` left as PID 1 ignores SIGTERM: every stop waited 10 s, then
    SIGKILLed Redis). `run`: also run the script with a stand-in redis-server, which reports its
    pid, argv and stdin: the pid is the shell's, the password on stdin, not in argv."""
    lines = [line.strip() for line in script.splitlines()]
    (i,) = [n for n, line in enumerate(lines) if "redis-server" in line and not line.startswith("#")]
    assert lines[i].startswith("exec redis-server "), f"{where}: {lines[i]}"
    assert "|" not in lines[i] and not (i and lines[i - 1].endswith(("|", "\\"))), f"{where}: redis-server in a pipeline"
    if not run:
        return
    with tempfile.TemporaryDirectory() as tmp:
        fake, report = Path(tmp) / "redis-server", Path(tmp) / "report"
        fake.write_text('#!/bin/sh\n{ echo "pid $$"; echo "argv $*"; cat; } > "$REPORT"\n')
        fake.chmod(0o755)
        env = {"PATH": f"{tmp}:/usr/bin:/bin", "REDIS_PASSWORD": "pw-0123abcd", "REPORT": str(report)}
        shell = subprocess.Popen(["sh", "-c", script], env=env)
        assert shell.wait(30) == 0, where
        pid, argv, *config = report.read_text().splitlines()
    assert pid == f"pid {shell.pid}", f"{where}: redis-server is not the process the container starts (PID 1)"
    assert "pw-0123abcd" not in argv and "requirepass pw-0123abcd" in config, (where, argv, config)


def test_compose_redis_persists_and_is_not_published():
    redis = compose()["services"]["redis"]
    assert redis["command"] == ["sh", "-c", REDIS_SCRIPT.replace("$", "$$")]  # $$: the container's shell expands it
    _check_redis_server_is_execd("compose redis", REDIS_SCRIPT)
    assert any(v.endswith(":/data") for v in redis["volumes"]), "the append-only file must live on a volume"
    assert "ports" not in redis


def test_compose_redis_demands_a_password_that_every_service_sends():
    services = compose()["services"]
    redis = services["redis"]
    required = "${REDIS_PASSWORD:?"
    assert redis["environment"]["REDIS_PASSWORD"].startswith(required), "no password must stop `docker compose up`"
    assert redis["environment"]["REDISCLI_AUTH"].startswith(required), "the health check must authenticate"
    assert redis["user"] == "redis"
    for name, service in services.items():
        if name != "redis":
            assert service["environment"]["REDIS_URL"] == "${REDIS_URL:-redis://:${REDIS_PASSWORD}@redis:6379/0}", name
    assert "REDIS_PASSWORD" in env_example_names(ENV_EXAMPLE.read_text().replace("#REDIS_PASSWORD", "REDIS_PASSWORD"))
    assert "\nREDIS_PASSWORD=\n" in ENV_EXAMPLE.read_text(), ".env.example must ask for it (uncommented, empty)"


def test_compose_command_lines_hold_no_secret():
    """A command line is visible to `ps` and `docker inspect`: secrets go in the environment."""
    for name, service in compose()["services"].items():
        command = " ".join(service.get("command", []))
        assert "--basic-auth" not in command and "--requirepass" not in command, name
        for var in ("PASSWORD", "SECRET", "TOKEN"):
            assert not re.search(rf"\$\{{[A-Z_]*{var}", command), f"{name}: {var} interpolated into its command"


def test_compose_passes_the_operator_token_and_the_webhook_settings():
    services = compose()["services"]
    assert services["api"]["environment"]["OPERATOR_TOKEN"] == "${OPERATOR_TOKEN:-}"
    for name in ["api", *COMPOSE_POOLS]:
        env = services[name]["environment"]
        assert env["WEBHOOK_SIGNING_SECRET"] == "${WEBHOOK_SIGNING_SECRET:-}", name
        assert "WEBHOOK_ALLOWED_HOSTS" in env and env["WEBHOOK_ALLOWED_HOSTS"] is None, f"{name}: from .env, by name"


#: Which compose services use each secret: the secret settings (brigade.settings.secret_names) and
#: the secrets of the deployment itself. Every Brigade service reaches Redis (and the broker).
APP_SERVICES = {"api", "flower", *COMPOSE_POOLS}
VIDEO_SERVICES = {"api", "worker-predict", "worker-gpu", "worker-gpu-cpu", "worker-control"}
COMPOSE_SECRETS = {
    "REDIS_URL": APP_SERVICES, "BROKER_URL": APP_SERVICES, "RESULT_BACKEND": APP_SERVICES,
    "REDIS_SENTINEL_PASSWORD": APP_SERVICES,
    "OPERATOR_TOKEN": {"api"}, "API_KEYS": {"api"}, "RATE_LIMIT_STORAGE_URI": {"api"},
    "WEBHOOK_SIGNING_SECRET": {"api", *COMPOSE_POOLS},  # the API checks callbacks, every worker signs
    "FLOWER_PASSWORD": set(),  # Flower gets it inside FLOWER_BASIC_AUTH
    "FLOWER_BASIC_AUTH": {"flower"},
    "REDIS_PASSWORD": {"redis"}, "REDISCLI_AUTH": {"redis"},  # the others: inside REDIS_URL
    "AWS_ACCESS_KEY_ID": VIDEO_SERVICES, "AWS_SECRET_ACCESS_KEY": VIDEO_SERVICES,
}


def test_compose_gives_each_secret_only_to_the_services_that_use_it():
    """No `env_file`: it would hand every secret of .env to every container (`docker inspect`
    shows them). Each service names what it gets: every other setting, and its own secrets."""
    assert secret_names() <= set(COMPOSE_SECRETS), f"say who uses {sorted(secret_names() - set(COMPOSE_SECRETS))}"
    services = compose()["services"]
    settings = {name for name, _, _ in settings_module.describe()}
    shared = settings - secret_names() - set(COMPOSE_FIXED)  # fixed there: the volumes' paths
    for name, service in services.items():
        assert "env_file" not in service, f"{name}: env_file hands it every secret of .env"
        env = service.get("environment", {})
        secrets = {var for var in env if var in COMPOSE_SECRETS}
        assert secrets == {var for var, users in COMPOSE_SECRETS.items() if name in users}, name
        if name in APP_SERVICES:
            missing = shared - set(env)
            assert not missing, f"{name}: settings that .env could not set: {sorted(missing)} (run `make docs`)"
        else:
            assert not settings & set(env), name
    assert not re.search(r"^\s*env_file:", COMPOSE.read_text(), re.M)


def test_compose_settings_list_is_the_generated_one():
    assert compose_settings_in_file() == compose_settings(), (
        "docker-compose.yml's x-settings is stale (a setting was added or became a secret): run `make docs`")


def test_compose_worker_commands_are_the_process_model():
    services = compose()["services"]
    for name, pool in COMPOSE_POOLS.items():
        command = " ".join(services[name]["command"]).replace("${EVENTS_MAX:-8}", "{EVENTS_MAX}")
        assert command == POOLS[pool], name
        assert services[name]["healthcheck"]["test"] == ["CMD", *_liveness(services[name]["command"])], name
    assert " ".join(services["api"]["command"]) == API_COMMAND
    assert " ".join(services["flower"]["command"]) == FLOWER_COMMAND


def test_compose_predict_replicas_gpu_reservation_and_cpu_fallback():
    services = compose()["services"]
    assert services["worker-predict"]["deploy"]["replicas"] == "${PREDICT_REPLICAS:-3}"
    gpu = services["worker-gpu"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices and devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert gpu["build"]["args"]["TORCH_VARIANT"] == "cuda"
    fallback = services["worker-gpu-cpu"]
    assert gpu["profiles"] == ["gpu"] and fallback["profiles"] == ["cpu"]
    assert "resources" not in fallback.get("deploy", {}) and fallback["image"] == services["api"]["image"]
    assert fallback["command"] == gpu["command"]


def test_compose_builds_each_image_once():
    """`build:` on one service per image: each builder exports its own copy of the image, so six
    builders of one tag made `up --build` export 2 GB six times and leave five dangling copies.
    Compose builds an image for the services that only name it (it pulls none of them)."""
    services = compose()["services"]
    builders: dict[str, list[str]] = {}
    for name, service in services.items():
        if "build" in service:
            builders.setdefault(service["image"], []).append(name)
    assert builders == {services["api"]["image"]: ["api"], services["worker-gpu"]["image"]: ["worker-gpu"]}, builders
    assert services["api"]["build"]["args"]["TORCH_VARIANT"] == "cpu"
    for name, service in services.items():
        if service["image"].startswith("${BRIGADE_IMAGE"):
            assert service["image"] in builders, f"{name}: no service builds {service['image']}"
    for builder in ("api", "worker-gpu"):  # the Dockerfile's index URLs: a mirror from .env, else its defaults
        args = services[builder]["build"]["args"]
        assert {name: args.get(name, "missing") for name in DOCKERFILE_INDEXES} == dict.fromkeys(DOCKERFILE_INDEXES), builder


def test_compose_flower_is_published_on_loopback_only():
    flower = compose()["services"]["flower"]
    assert flower["ports"] and all(str(p).startswith("127.0.0.1:") for p in flower["ports"]), flower["ports"]
    auth = flower["environment"]["FLOWER_BASIC_AUTH"]
    assert auth.startswith("${FLOWER_USER:-admin}:${FLOWER_PASSWORD:?"), "an empty password must stop `docker compose up`"


def test_compose_shares_upload_and_model_volumes_at_the_configured_paths():
    data = compose()
    services = data["services"]
    assert {"uploads", "models", "redis-data"} <= set(data["volumes"])
    for name in ["api", *COMPOSE_POOLS]:
        env = services[name]["environment"]
        mounts = dict(reversed(v.split(":")[:2]) for v in services[name]["volumes"])
        assert mounts.get(env["UPLOAD_DIR"]) == "uploads", name
        # The API too: /v1/hotel-destinations must read the models the workers serve, not the image's.
        assert mounts.get(env["MODEL_STORE"]) == "models", name


# --- deploy/compose.sentinel.yml: Redis with Sentinel, opt-in ------------------------------------------


@functools.cache
def sentinel_compose() -> dict:
    return yaml.safe_load(SENTINEL_COMPOSE.read_text())


def _sentinel_options(script: str) -> dict[str, list[str]]:
    """`sentinel <option> <master> <values...>` lines a config script writes, by option."""
    found = {}
    for m in re.finditer(r"sentinel (monitor|down-after-milliseconds|failover-timeout|parallel-syncs|auth-pass) (\S+) ([^'\"\n]+)", script):
        found[m.group(1)] = [m.group(2), *m.group(3).split()]
    return found


def _check_sentinel_config(where: str, script: str) -> str:
    """The Sentinel settings of docs/DEPLOY.md; returns the monitored primary's host."""
    options = _sentinel_options(script)
    master, host, port, quorum = options["monitor"]
    assert master == "brigade" and port == "6379", where
    assert quorum == "2", f"{where}: two of three Sentinels must agree, so losing one still fails over"
    assert options["down-after-milliseconds"][:1] == ["brigade"]
    assert int(options["down-after-milliseconds"][1]) <= MAX_DOWN_AFTER_MS, f"{where}: Sentinel's default 30 s is too slow"
    assert options["failover-timeout"] == ["brigade", "10000"], where
    assert options["parallel-syncs"] == ["brigade", "1"], where
    for line in ("port 26379", "sentinel resolve-hostnames yes", "sentinel announce-hostnames yes"):
        assert line in script, (where, line)
    assert re.search(r"sentinel auth-pass brigade %s", script), f"{where}: Sentinel needs the data nodes' password"
    return host


def _check_data_node_config(where: str, script: str) -> None:
    for line in ("appendonly yes", "maxmemory-policy noeviction", "min-replicas-to-write 1", "min-replicas-max-lag 5"):
        assert f"'{line}'" in script, (where, line)
    assert "requirepass %s\\nmasterauth %s\\n" in script, f"{where}: replicas authenticate to the primary"
    assert "replica-announce-ip %s" in script and "replicaof %s 6379" in script, where


def _check_no_password_in_argv(where: str, script: str) -> None:
    """Passwords reach redis-server through its config file only: printf (a shell builtin) writes
    them; redis-server gets a file name (and --sentinel); redis-cli reads REDISCLI_AUTH."""
    assert not re.search(r"(?<!\$)\$\{[A-Z_]*PASSWORD", script), f"{where}: a password interpolated into the command"
    for line in script.splitlines():
        line = line.strip()
        if "REDIS_PASSWORD" in line:
            assert line.startswith("printf "), f"{where}: {line}"
        if "redis-server" in line:
            assert re.fullmatch(r'exec redis-server "?\$*[\w/.]+"?( --sentinel)?', line), f"{where}: {line}"
        if "redis-cli" in line:
            assert not re.search(r"\s(-a|--pass|--user|-u)\s", line), f"{where}: {line}"


def _sentinel_compose_roles() -> tuple[list[str], list[str]]:
    """(data nodes, sentinels) of the Sentinel compose file, by what their commands run."""
    services = sentinel_compose()["services"]
    scripts = {name: s["command"][2] for name, s in services.items() if s.get("command", [])[:2] == ["sh", "-c"]}
    nodes = sorted(n for n, script in scripts.items() if "exec redis-server /data/redis.conf" in script)
    sentinels = sorted(n for n, script in scripts.items() if "--sentinel" in script)
    return nodes, sentinels


def test_sentinel_compose_runs_three_data_nodes_and_three_sentinels_from_config_files():
    data = sentinel_compose()
    services = data["services"]
    nodes, sentinels = _sentinel_compose_roles()
    assert nodes == ["redis", "redis-2", "redis-3"] and len(sentinels) == 3
    volumes = []
    for name in nodes + sentinels:
        service = services[name]
        script = service["command"][2].replace("$$", "$")  # what the container's shell runs
        assert service["image"].startswith("redis:7") and service["user"] == "redis", name
        assert service["restart"] == "unless-stopped", name
        _check_no_password_in_argv(name, script)
        env = service["environment"]
        for var in ("REDIS_PASSWORD", "REDISCLI_AUTH"):
            assert env[var].startswith("${REDIS_PASSWORD:?"), f"{name}: no password must stop `docker compose up`"
        assert env["ANNOUNCE_HOSTNAME"] == name, f"{name}: Sentinel and the replicas find it by its service name"
        mounts = [v for v in service.get("volumes", []) if v.endswith(":/data")]
        if name == "redis":
            assert not mounts, "docker-compose.yml's redis-data volume stays its /data"
        else:
            (mount,) = mounts
            volumes.append(mount.split(":")[0])
        check = service["healthcheck"]["test"]
        _check_redis_server_is_execd(name, script, run=False)
        if name in sentinels:
            assert script.rstrip().endswith('exec redis-server "$conf" --sentinel') and "conf=/data/sentinel.conf" in script
            assert check == ["CMD-SHELL", "redis-cli -p 26379 sentinel get-master-addr-by-name brigade | grep -qx 6379"]
            assert _check_sentinel_config(name, script) == "redis", "the Sentinels start by watching `redis`"
        else:
            assert script.rstrip().endswith("exec redis-server /data/redis.conf")
            assert check == ["CMD-SHELL", REDIS_HEALTH]
            _check_data_node_config(name, script)
            assert 'primary="${primary:-redis}"' in script, "no Sentinel answering: `redis` is the first primary"
    assert len(set(volumes)) == len(volumes) == 5 and set(volumes) <= set(data["volumes"]), "each its own volume"


def test_sentinel_compose_switches_every_app_service_to_the_sentinels():
    base, override = compose()["services"], sentinel_compose()["services"]
    nodes, sentinels = _sentinel_compose_roles()
    apps = [name for name, service in base.items() if "REDIS_URL" in service.get("environment", {})]
    assert set(apps) == set(base) - {"redis"} and len(apps) >= 7
    assert set(override) == set(apps) | set(nodes) | set(sentinels), "a service the base file does not know"
    for name in apps:
        env = override[name]["environment"]
        assert env["REDIS_SENTINELS"] == ",".join(f"{s}:26379" for s in sentinels), name
        assert env["REDIS_MASTER_NAME"] == "brigade", name
        assert env["REDIS_MIN_REPLICAS_ACK"] == "${REDIS_MIN_REPLICAS_ACK:-1}", f"{name}: a 202 waits for a replica"
        assert env["REDIS_ACK_TIMEOUT_MS"] == "${REDIS_ACK_TIMEOUT_MS:-1000}", name
        assert "REDIS_URL" not in env, f"{name}: keeps the base file's REDIS_URL (its password and database)"
        assert override[name]["depends_on"] == {s: {"condition": "service_healthy"} for s in sentinels}, name
        assert "command" not in override[name], f"{name}: the process model's command stays the base file's"
    # The plain `docker compose up` stays one Redis: REDIS_SENTINELS only passes through from .env.
    assert all(service.get("environment", {}).get("REDIS_SENTINELS") is None for service in base.values())
    assert "sentinel" not in json.dumps(base).lower().replace("redis_sentinel", "")


# --- every command: parsed by its real CLI, its modules and queues resolved ----------------------------


def _node_name(argv: list[str]) -> str:
    return argv[argv.index("-n") + 1].split("@")[0]


def parse_celery(argv: list[str]) -> tuple[str, str, dict]:
    """(the -A app, the subcommand, its parsed options) by Celery's own click commands; raises on
    an unknown option or a bad value, as `celery` itself would."""
    from celery.bin.base import CLIContext
    from celery.bin.celery import celery as celery_group

    assert argv[0] == "celery"
    ctx = celery_group.make_context("celery", list(argv[1:]))
    head = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args
    name, command, rest = celery_group.resolve_command(ctx, [*head, *ctx.args])
    ctx.obj = CLIContext(app=None, no_color=True, workdir=None, quiet=True)
    sub = command.make_context(name, rest, parent=ctx)
    return ctx.params["app"], name, sub.params


def _all_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of every command the compose file and the k8s manifests run."""
    found = []
    for name, service in compose()["services"].items():
        if "command" in service:
            found.append((f"compose {name}", [a.replace("${EVENTS_MAX:-8}", "8") for a in service["command"]]))
        test = service.get("healthcheck", {}).get("test", [])
        if test[:1] == ["CMD-SHELL"]:
            found.append((f"compose {name} healthcheck", shlex.split(test[1])))
        elif test[:1] == ["CMD"]:
            found.append((f"compose {name} healthcheck", test[1:]))
    for doc in k8s_docs():
        for container in _containers(doc):
            if "command" not in container:  # redis: the image's own entry point
                continue
            found.append((f"k8s {doc['metadata']['name']}", [a.replace("$(EVENTS_MAX)", "8") for a in container["command"]]))
            probe = container.get("livenessProbe", {}).get("exec", {}).get("command", [])
            if probe[:2] == ["sh", "-c"]:
                found.append((f"k8s {doc['metadata']['name']} probe", shlex.split(probe[2])))
            elif probe:
                found.append((f"k8s {doc['metadata']['name']} probe", probe))
    return found


def test_every_celery_command_parses_and_names_real_queues():
    commands = [(where, argv) for where, argv in _all_commands() if argv[0] == "celery"]
    assert len(commands) >= 11
    for where, argv in commands:
        app_path, sub, params = parse_celery(argv)
        assert app_path == "worker.celery_app", where
        if sub == "worker":
            assert params["queues"] and set(params["queues"]) <= set(queues.ALL), (where, params["queues"])
            assert params["task_events"], f"{where}: -E, or Flower sees no task"
        else:
            assert sub == "flower", where
    # The parser is strict: a misspelt option fails.
    with pytest.raises(Exception, match="No such option"):
        parse_celery(["celery", "-A", "worker.celery_app", "worker", "-Q", "predict", "--concurency=1"])


def _pool_drift(argv: list[str]) -> list[str]:
    """How a worker's command departs from the pool the table of work declares for its queue
    (`worker.work.POOLS`): its pool kind, and its fixed size or autoscaling. Empty: none."""
    from celery.concurrency import get_implementation

    _, _, params = parse_celery(argv)
    if len(params["queues"]) != 1:
        return [f"consumes {params['queues']}: one queue per pool"]
    declared = work.pool_for(params["queues"][0])
    drift = []
    if params["pool"] is not get_implementation(declared.kind):
        drift.append(f"pool {params['pool'].__module__}, the table says {declared.kind}")
    if bool(params["autoscale"]) != declared.autoscaled:
        drift.append(f"--autoscale {params['autoscale']}, the table says autoscaled={declared.autoscaled}")
    elif not declared.autoscaled and declared.kind != work.SOLO and params["concurrency"] != declared.concurrency:
        drift.append(f"--concurrency={params['concurrency']}, the table says {declared.concurrency}")
    return drift


def _overlay_commands() -> list[tuple[str, list[str]]]:
    """(where, argv) of the commands the opt-in overlays run (deploy/*.yml, deploy/k8s-sentinel/)."""
    found = [(f"{path.name} {name}", service["command"]) for path in sorted((ROOT / "deploy").glob("*.yml"))
             for name, service in yaml.safe_load(path.read_text())["services"].items() if "command" in service]
    for path in sorted(K8S_SENTINEL.glob("*.yaml")):
        for doc in filter(None, yaml.safe_load_all(path.read_text())):
            pod = doc.get("spec", {}).get("template", {}).get("spec", {})
            found += [(f"k8s-sentinel {doc['metadata']['name']}", c["command"]) for c in pod.get("containers", []) if "command" in c]
    return found


def test_every_worker_command_runs_the_pool_the_table_of_work_declares():
    """The deploy files keep literal command lines; the table of work is the truth (devtools/procs.py
    builds `make run`'s from it), so a command that drifts from it fails here."""
    workers = [(where, argv) for where, argv in _all_commands() + _overlay_commands() if argv[:1] == ["celery"]
               and "worker" in argv]
    assert {where.split()[1] for where, _ in workers} >= set(COMPOSE_POOLS) | set(K8S_POOLS)
    for where, argv in workers:
        assert not _pool_drift(argv), (where, _pool_drift(argv))
    assert {parse_celery(argv)[2]["queues"][0] for _, argv in workers} == set(queues.ALL), "a queue no pool consumes"
    # A drift is caught: a shard worker on threads, the events pool at a fixed size, control's size.
    gpu, events = compose()["services"]["worker-gpu"]["command"], POOLS["events"].replace("{EVENTS_MAX}", "8").split()
    assert _pool_drift([arg.replace("--pool=solo", "--pool=threads") for arg in gpu])
    assert _pool_drift([arg.replace("--autoscale=8,0", "--concurrency=8") for arg in events])
    assert _pool_drift(POOLS["control"].replace("--concurrency=4", "--concurrency=2").split())


def _liveness(worker: list[str]) -> list[str]:
    """The liveness check of a worker started with `worker`: its host heartbeat (worker/alive.py),
    by the node name of its `-n`."""
    return ["python", "-m", "worker.alive", _node_name(worker)]


def _worker_checks() -> list[tuple[str, list[str], list[str]]]:
    """(where, the worker's command, its compose health check or k8s liveness probe) of every pool."""
    found = [(f"compose {name}", s["command"], s["healthcheck"]["test"][1:]) for name, s in compose()["services"].items()
             if name in COMPOSE_POOLS]
    for name in K8S_POOLS:
        (container,) = _containers(_by_kind("Deployment")[name])
        found.append((f"k8s {name}", container["command"], container["livenessProbe"]["exec"]["command"]))
    return found


def test_worker_liveness_is_the_heartbeat_never_a_ping():
    """A `--pool=solo` worker runs its task in the consumer's thread: `celery inspect ping` gets
    no reply while a segment runs, so a ping as liveness killed shard workers mid-segment (and
    their redelivered segment again, until the job ended as poison). Every pool's check reads
    the host heartbeat that a thread of the worker's main process keeps fresh, busy or not."""
    checks = _worker_checks()
    assert {where.split()[1] for where, _, _ in checks} == set(COMPOSE_POOLS) | set(K8S_POOLS)
    assert any("--pool=solo" in worker for _, worker, _ in checks)
    for where, worker, check in checks:
        assert "inspect" not in " ".join(check), f"{where}: a ping gets no reply from a busy solo pool"
        assert check == _liveness(worker), where
    for where, argv in _all_commands():
        assert "inspect" not in argv, where
    # The module the checks run, in the image's WORKDIR (python -m), parses the node as Celery's %h does.
    from worker import alive

    assert (ROOT / "worker" / "alive.py").is_file() and alive.worker_name("gpu", "h1") == "gpu@h1"
    assert _dockerfile_workdir() == "/app" and not _dockerignored("worker/alive.py")


def test_k8s_worker_liveness_leaves_time_for_a_restart_to_matter():
    """Three failures 30 s apart: a Redis failover (the check then says "unknown", exit 0) or a
    slow start cannot kill a pod; a dead main process is restarted within two minutes."""
    for name in K8S_POOLS:
        (container,) = _containers(_by_kind("Deployment")[name])
        probe = container["livenessProbe"]
        assert probe["failureThreshold"] * probe["periodSeconds"] > FAILOVER_WINDOW_S, name
        assert probe["initialDelaySeconds"] >= 60 and probe["timeoutSeconds"] >= 5, name
        assert "readinessProbe" not in container, f"{name}: no Service sends a worker traffic"


def test_flower_options_exist():
    argvs = [argv[argv.index("flower") + 1:] for _, argv in _all_commands() if "flower" in argv]
    assert len(argvs) == 2  # compose and k8s
    code = ("import sys, json; import flower.options; from tornado.options import options\n"
            "for argv in json.loads(sys.argv[1]): options.parse_command_line(['flower', *argv], final=False)\n"
            "print(options.port)")
    ok = subprocess.run([sys.executable, "-c", code, json.dumps(argvs)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.strip() == "5555", ok.stderr
    # FLOWER_BASIC_AUTH, which compose and k8s set in its environment, is the option Flower reads
    env_code = ("import flower.options; from tornado.options import options; from flower.command import apply_env_options\n"
                "apply_env_options(); print(options.basic_auth)")
    env = {"PATH": "/usr/bin:/bin", "FLOWER_BASIC_AUTH": "admin:pw"}
    read = subprocess.run([sys.executable, "-c", env_code], capture_output=True, text=True, timeout=60, env=env)
    assert read.returncode == 0 and read.stdout.strip() == "['admin:pw']", read.stderr
    bad = subprocess.run([sys.executable, "-c", code, json.dumps([["--prot=5555"]])], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "Unrecognized command line option" in bad.stderr


def test_gunicorn_commands_parse_and_their_config_and_app_exist():
    from gunicorn.config import Config

    argvs = [argv for _, argv in _all_commands() if argv[0] == "gunicorn"] + [_dockerfile_cmd()]
    assert len(argvs) == 3  # compose, k8s, the image's CMD
    for argv in argvs:
        parsed = Config().parser().parse_args(argv[1:])
        assert (ROOT / parsed.config).is_file(), parsed.config
        assert parsed.args == ["app.wsgi:app"]


def test_the_celery_app_imports_with_every_queue():
    code = ("from celery import Celery; import worker.celery_app as m; assert isinstance(m.app, Celery)\n"
            "print(' '.join(q.name for q in m.app.conf.task_queues))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert set(queues.ALL) <= set(out.stdout.split())


def test_the_wsgi_app_imports_without_torch(tmp_path):
    code = ("import sys; from flask import Flask; from app.wsgi import app\n"
            "assert isinstance(app, Flask); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={**_clean_env(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", "the API process imported torch"


def test_the_gunicorn_config_loads_with_its_prometheus_hooks(tmp_path):
    code = ("import runpy, os; ns = runpy.run_path('app/gunicorn_conf.py')\n"
            "from gunicorn.util import load_class; from gunicorn.workers.gthread import ThreadWorker\n"
            "assert issubclass(load_class(ns['worker_class']), ThreadWorker)\n"
            "assert callable(ns['child_exit']) and callable(ns['on_starting'])\n"
            "print(os.environ['PROMETHEUS_MULTIPROC_DIR'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                         env={**_clean_env(), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(tmp_path / "prom") and (tmp_path / "prom").is_dir()


def _clean_env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}


# --- Dockerfile and .dockerignore ------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in (raw.strip() for raw in text.splitlines()) if line and not line.startswith("#")]


def _dockerfile_cmd() -> list[str]:
    return json.loads([arg for op, arg in dockerfile_instructions() if op == "CMD"][-1])


def test_dockerfile_is_multi_stage_non_root_with_debian_ffmpeg_and_a_torch_variant():
    instructions = dockerfile_instructions()
    stages = [i for i, (op, _) in enumerate(instructions) if op == "FROM"]
    assert len(stages) >= 2, "multi-stage"
    final = instructions[stages[-1]:]
    assert any(op == "COPY" and arg.startswith("--from=") for op, arg in final), "the final stage copies the build's output"
    users = [arg for op, arg in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "runs as a non-root user"
    run_final = " ".join(arg for op, arg in final if op == "RUN")
    assert re.search(r"apt-get install [^&;]*\bffmpeg\b", run_final), "ffmpeg from Debian's package"
    env_final = " ".join(arg for op, arg in final if op == "ENV")
    assert "FFMPEG_BINARY=/usr/bin/ffmpeg" in env_final
    build = instructions[:stages[-1]]
    assert ("ARG", "TORCH_VARIANT=cpu") in build
    run_build = " ".join(arg for op, arg in build if op == "RUN")
    assert 'cpu) index="${TORCH_INDEX_URL}/cpu"' in run_build and "cuda)" in run_build
    assert "-r /tmp/requirements.txt" in run_build
    assert ("COPY", "requirements.txt /tmp/requirements.txt") in build
    assert " ".join(_dockerfile_cmd()) == API_COMMAND


#: The package indexes of the Dockerfile: build arguments (their defaults the public indexes), so a
#: mirror can stand in (docker-compose.yml passes them from .env).
DOCKERFILE_INDEXES = {"PIP_INDEX_URL": "https://pypi.org/simple", "TORCH_INDEX_URL": "https://download.pytorch.org/whl"}


def _dockerfile_workdir() -> str:
    return [arg for op, arg in dockerfile_instructions() if op == "WORKDIR"][-1]


def test_dockerfile_fetches_no_frontend_and_takes_its_indexes_as_build_arguments():
    """`# syntax=` makes every build pull a Dockerfile frontend image from Docker Hub (no feature
    of it is used); a URL written into a RUN cannot be pointed at a mirror."""
    lines = DOCKERFILE.read_text().splitlines()
    assert not [line for line in lines if re.match(r"#\s*syntax\s*=", line, re.I)], "no parser directive"
    instructions = dockerfile_instructions()
    args = dict(arg.split("=", 1) for op, arg in instructions if op == "ARG" and "=" in arg)
    assert {name: args.get(name) for name in DOCKERFILE_INDEXES} == DOCKERFILE_INDEXES
    for name, default in DOCKERFILE_INDEXES.items():
        assert DEPLOY_VARS[name][0] == default, f".env.example shows another default of {name}"
    for op, arg in instructions:
        if op != "ARG":
            assert not re.search(r"https?://", arg), f"{op} {arg[:80]}: a URL only as a build argument's default"
    run = " ".join(arg for op, arg in instructions if op == "RUN")
    assert '--index-url "$index" --extra-index-url "$PIP_INDEX_URL"' in run
    assert 'pip install --index-url "$PIP_INDEX_URL" -r /tmp/requirements.txt' in run


def _dockerignored(path: str) -> bool:
    """Docker's rule: the last pattern that matches decides; `!` re-includes."""
    ignored = False
    for raw in DOCKERIGNORE.read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.replace("**/", "")) for p in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_secrets_and_local_state_out_and_the_code_in():
    for path in (".env", ".env.production", ".venv/bin/python", ".git/config", "var/uploads/x.mp4", "tests/conftest.py"):
        assert _dockerignored(path), path
    for path in ("requirements.txt", "app/wsgi.py", "app/gunicorn_conf.py", "brigade/settings.py", "worker/celery_app.py",
                 "media/probe.py", "models/registry.py", ".env.example"):
        assert not _dockerignored(path), path
    for op, arg in dockerfile_instructions():
        if op == "COPY" and not arg.startswith("--from="):
            source = arg.split()[-2]
            assert (ROOT / source).exists() and (source == "." or not _dockerignored(source)), arg


# --- deploy/k8s -------------------------------------------------------------------------------------------


@functools.cache
def k8s_docs() -> list[dict]:
    """Parsed once and shared, as are _by_kind()'s: deepcopy before changing them."""
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _containers(doc: dict) -> list[dict]:
    return doc["spec"]["template"]["spec"]["containers"] if doc["kind"] == "Deployment" else []


@functools.cache
def _by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in k8s_docs() if d["kind"] == kind}


def _strict(schema):
    """additionalProperties: false wherever a structural schema lists its properties, as the API
    server prunes unknown fields: a misspelt field fails instead of vanishing."""
    if isinstance(schema, dict):
        schema = {k: _strict(v) for k, v in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [_strict(v) for v in schema]
    return schema


def test_kubernetes_objects_follow_the_kubernetes_schemas():
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    checked = 0
    for doc in k8s_docs():
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        kubernetes_validate.validate(doc, version, strict=True)
        checked += 1
    assert checked >= 15
    broken = copy.deepcopy(_by_kind("Deployment")["worker-gpu"])
    broken["spec"]["template"]["spec"]["containers"][0]["resorces"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="resorces"):
        kubernetes_validate.validate(broken, version, strict=True)


def test_keda_scaled_objects_follow_the_keda_crd_schema():
    schema = _strict(json.loads(KEDA_SCHEMA.read_text()))
    scaled = _by_kind("ScaledObject")
    assert set(scaled) == set(K8S_POOLS)
    for doc in scaled.values():
        assert doc["apiVersion"] == "keda.sh/v1alpha1"
        jsonschema.validate(doc, schema)
    broken = copy.deepcopy(scaled["worker-events"])
    broken["spec"]["minReplicas"] = 0
    with pytest.raises(jsonschema.ValidationError, match="minReplicas"):
        jsonschema.validate(broken, schema)
    broken = copy.deepcopy(scaled["worker-events"])
    broken["spec"]["triggers"][0]["metadata"]["listLength"] = 20  # KEDA wants strings
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_each_worker_pool_scales_on_its_own_queue():
    deployments, scaled = _by_kind("Deployment"), _by_kind("ScaledObject")
    for name, pool in K8S_POOLS.items():
        argv = _containers(deployments[name])[0]["command"]
        assert " ".join(argv).replace("$(EVENTS_MAX)", "{EVENTS_MAX}") == POOLS[pool], name
        assert "replicas" not in deployments[name]["spec"], f"{name}: KEDA owns the replica count"
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "redis"
        assert trigger["metadata"]["listName"] == argv[argv.index("-Q") + 1]
        if name in SCALE_TO_ZERO:
            assert spec["minReplicaCount"] == 0, name
        else:
            assert spec["minReplicaCount"] >= 1, name
        env_name = trigger["metadata"]["addressFromEnv"]
        assert env_name in _by_kind("ConfigMap")["brigade-settings"]["data"]
        assert {"configMapRef": {"name": "brigade-settings"}} in _containers(deployments[name])[0]["envFrom"]


def test_the_gpu_pool_requests_gpus():
    (container,) = _containers(_by_kind("Deployment")["worker-gpu"])
    assert container["resources"]["requests"]["nvidia.com/gpu"] == container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert container["image"].endswith(":cuda")


def test_services_select_their_deployments_and_ports():
    deployments = _by_kind("Deployment")
    services = _by_kind("Service")
    assert {"api", "redis", "flower"} <= set(services)
    for name, service in services.items():
        targets = [d for d in deployments.values()
                   if service["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(targets) == 1, f"service {name} selects {len(targets)} deployments"
        ports = {p.get("name") for c in _containers(targets[0]) for p in c.get("ports", [])}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports, name
    assert services["flower"]["spec"].get("type", "ClusterIP") == "ClusterIP", "Flower's /metrics is open: keep it in-cluster"


def test_references_resolve_and_secrets_are_the_operators():
    docs = k8s_docs()
    defined = {(d["kind"], d["metadata"]["name"]) for d in docs}
    defined |= {("Secret", name) for name in OPERATOR_SECRETS}
    config = _by_kind("ConfigMap")["brigade-settings"]["data"]
    settings = {name for name, _, _ in settings_module.describe()}
    assert set(config) <= settings | {"REDIS_ADDRESS"}, sorted(set(config) - settings)
    secret_keys = set().union(*OPERATOR_SECRETS.values())
    assert not secret_keys & set(config) and "REDIS_URL" not in config, "a secret (or a URL holding one) in the ConfigMap"
    assert not _by_kind("Secret"), "a Secret in git ships its value (or a placeholder): the operator creates them"
    for doc in docs:
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]) in defined
        for container in pod["containers"]:
            for source in container.get("envFrom", []):
                kind, ref = ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else ("Secret", source["secretRef"])
                assert (kind, ref["name"]) in defined
            for var in container.get("env", []):
                ref = var.get("valueFrom", {})
                if "secretKeyRef" in ref:
                    assert ref["secretKeyRef"]["key"] in OPERATOR_SECRETS[ref["secretKeyRef"]["name"]]
                if "configMapKeyRef" in ref:
                    assert ref["configMapKeyRef"]["key"] in _by_kind("ConfigMap")[ref["configMapKeyRef"]["name"]]["data"]
            # $(VAR) in a command expands only for variables the container names in `env`; in an env
            # value, only for those named before it.
            named = [var["name"] for var in container.get("env", [])]
            for ref in re.findall(r"\$\(([A-Z_]+)\)", " ".join(container.get("command", []))):
                assert ref in named, f"{doc['metadata']['name']}: $({ref}) is not expanded"
            for i, var in enumerate(container.get("env", [])):
                for ref in re.findall(r"\$\(([A-Z_]+)\)", var.get("value", "")):
                    assert ref in named[:i], f"{doc['metadata']['name']}: $({ref}) in {var['name']} is not expanded"


def test_every_secret_the_pods_need_is_created_by_a_documented_command():
    """None ships in git; docs/DEPLOY.md says how to create each, with every key the pods read."""
    used: dict[str, set] = {}
    for doc in k8s_docs():
        for container in _containers(doc):
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    used.setdefault(source["secretRef"]["name"], set())
            for var in container.get("env", []):
                if ref := var.get("valueFrom", {}).get("secretKeyRef"):
                    used.setdefault(ref["name"], set()).add(ref["key"])
    assert set(used) == set(OPERATOR_SECRETS), sorted(set(used) ^ set(OPERATOR_SECRETS))
    commands = re.sub(r"\\\n\s*", " ", DEPLOY_DOC.read_text())
    for name, keys in OPERATOR_SECRETS.items():
        assert used[name] <= keys
        (line,) = [c for c in commands.splitlines() if f"create secret generic {name} " in c]
        for key in keys:
            assert f"--from-literal={key}=" in line, (name, key)



def test_uploads_live_on_s3_with_credentials_in_a_secret_and_no_shared_upload_volume():
    config = _by_kind("ConfigMap")["brigade-settings"]["data"]
    assert config["STORAGE_BACKEND"] == "s3" and config["S3_BUCKET"]
    credentials = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert not credentials & set(config) and credentials == OPERATOR_SECRETS["brigade-s3"]
    deployments = _by_kind("Deployment")
    local_dirs = {"api": config["UPLOAD_DIR"], "worker-predict": config["WORKER_CACHE_DIR"],
                  "worker-gpu": config["WORKER_CACHE_DIR"], "worker-control": config["WORKER_CACHE_DIR"]}
    for name, path in local_dirs.items():
        pod = deployments[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert {"secretRef": {"name": "brigade-s3"}} in container["envFrom"], name
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == path]
        (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
        assert "emptyDir" in volume, f"{name}: {path} is the pod's own disk, not a shared volume"


def test_redis_keeps_its_data_on_a_volume():
    redis = _by_kind("Deployment")["redis"]
    (container,) = _containers(redis)
    assert "--appendonly yes" in container["command"][2]
    assert any(m["mountPath"] == "/data" for m in container["volumeMounts"])
    assert redis["spec"]["strategy"]["type"] == "Recreate"


def _secret_env(container: dict, name: str) -> tuple[str, str] | None:
    for var in container.get("env", []):
        if var["name"] == name and "secretKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["secretKeyRef"]
            return ref["name"], ref["key"]
    return None


def test_k8s_redis_demands_the_password_of_its_secret_and_every_pod_sends_it():
    deployments = _by_kind("Deployment")
    (redis,) = _containers(deployments["redis"])
    assert redis["command"] == ["sh", "-c", REDIS_SCRIPT], "requirepass on stdin, not in argv"
    _check_redis_server_is_execd("k8s redis", REDIS_SCRIPT)
    assert _secret_env(redis, "REDIS_PASSWORD") == _secret_env(redis, "REDISCLI_AUTH") == ("brigade-redis", "REDIS_PASSWORD")
    for probe in ("readinessProbe", "livenessProbe"):
        assert redis[probe]["exec"]["command"] == ["sh", "-c", REDIS_HEALTH], probe
    assert deployments["redis"]["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    for name, doc in deployments.items():
        if name == "redis":
            continue
        (container,) = _containers(doc)
        env = {var["name"]: var for var in container["env"]}
        assert _secret_env(container, "REDIS_PASSWORD") == ("brigade-redis", "REDIS_PASSWORD"), name
        assert env["REDIS_URL"]["value"] == "redis://:$(REDIS_PASSWORD)@redis:6379/0", name
    for scaled in _by_kind("ScaledObject").values():
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["metadata"]["passwordFromEnv"] == "REDIS_PASSWORD", scaled["metadata"]["name"]


def test_k8s_operator_token_webhooks_and_flower_auth_come_from_secrets():
    deployments = _by_kind("Deployment")
    (api,) = _containers(deployments["api"])
    assert _secret_env(api, "OPERATOR_TOKEN") == ("brigade-operator", "OPERATOR_TOKEN")
    assert not any(k.startswith("prometheus.io/") for k in deployments["api"]["spec"]["template"]["metadata"].get("annotations", {})), (
        "prometheus.io annotations cannot send OPERATOR_TOKEN: scrape with credentials_file (docs/DEPLOY.md)")
    assert "credentials_file" in DEPLOY_DOC.read_text()
    for name in ["api", *K8S_POOLS]:
        (container,) = _containers(deployments[name])
        assert _secret_env(container, "WEBHOOK_SIGNING_SECRET") == ("brigade-webhooks", "WEBHOOK_SIGNING_SECRET"), name
    assert "WEBHOOK_ALLOWED_HOSTS" in _by_kind("ConfigMap")["brigade-settings"]["data"]
    (flower,) = _containers(deployments["flower"])
    assert " ".join(flower["command"]) == FLOWER_COMMAND
    env = {var["name"]: var for var in flower["env"]}
    assert env["FLOWER_BASIC_AUTH"]["value"] == "$(FLOWER_USER):$(FLOWER_PASSWORD)"
    assert _secret_env(flower, "FLOWER_PASSWORD") == ("brigade-flower", "FLOWER_PASSWORD")
    for doc in deployments.values():
        for container in _containers(doc):
            command = " ".join(container.get("command", []))
            assert "--basic-auth" not in command and "--requirepass" not in command, doc["metadata"]["name"]


def _selects(selector: dict, labels: dict) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


def test_network_policies_keep_redis_to_brigade_and_keda_and_the_api_to_what_it_needs():
    policies = _by_kind("NetworkPolicy")
    deployments = _by_kind("Deployment")
    pod_labels = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()}
    (redis_policy,) = [p for p in policies.values() if _selects(p["spec"]["podSelector"], pod_labels["redis"])
                       and "Ingress" in p["spec"]["policyTypes"]]
    (rule,) = redis_policy["spec"]["ingress"]
    assert [p["port"] for p in rule["ports"]] == [6379]
    sources = rule["from"]
    assert all(set(s) <= {"podSelector", "namespaceSelector"} for s in sources)
    pod_sources = [s["podSelector"] for s in sources if "namespaceSelector" not in s]
    for name, labels in pod_labels.items():  # every Brigade pod may connect ...
        assert any(_selects(s, labels) for s in pod_sources), name
    for s in pod_sources:  # ... and only Brigade's
        assert s["matchLabels"].get("app.kubernetes.io/part-of") == "brigade", s
    assert [s["namespaceSelector"] for s in sources if "namespaceSelector" in s] == [
        {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}], "KEDA's operator reads the queue lengths"
    (api_policy,) = [p for p in policies.values() if _selects(p["spec"]["podSelector"], pod_labels["api"])
                     and "Egress" in p["spec"]["policyTypes"]]
    assert not _selects(api_policy["spec"]["podSelector"], pod_labels["worker-predict"]), "workers deliver webhooks anywhere"
    ports = sorted(p["port"] for rule in api_policy["spec"]["egress"] for p in rule["ports"])
    assert ports == [53, 53, 443, 6379], ports


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_the_vendored_keda_schema_names_its_source():
    readme = (KEDA_SCHEMA.parent / "README.md").read_text()
    assert "kedacore/keda" in readme and "keda.sh_scaledobjects.yaml" in readme
    schema = json.loads(KEDA_SCHEMA.read_text())
    assert {"scaleTargetRef", "triggers"} <= set(schema["properties"]["spec"]["required"])


def test_no_pod_may_reach_flower_whose_metrics_are_open():
    policies = _by_kind("NetworkPolicy")
    flower_labels = _by_kind("Deployment")["flower"]["spec"]["template"]["metadata"]["labels"]
    (policy,) = [p for p in policies.values() if _selects(p["spec"]["podSelector"], flower_labels)]
    assert policy["spec"]["policyTypes"] == ["Ingress"] and policy["spec"]["ingress"] == []


def test_api_is_ready_on_readyz_and_alive_on_healthz():
    """Readiness is the Service's health check (an HAProxy `check` in the cluster harness); liveness
    asks nothing of Redis, or a Redis outage would restart every API pod."""
    (api,) = _containers(_by_kind("Deployment")["api"])
    ready, alive = api["readinessProbe"], api["livenessProbe"]
    assert ready["httpGet"] == {"path": "/readyz", "port": "http"}
    assert alive["httpGet"] == {"path": "/healthz", "port": "http"}
    # Every API pod fails /readyz together during a Redis failover: outlasting it keeps them in the Service.
    assert ready.get("failureThreshold", 3) * ready.get("periodSeconds", 10) > FAILOVER_WINDOW_S


#: Pools that must keep a pod through a drain (a PodDisruptionBudget with minAvailable), and what
#: holds their replica count.
ALWAYS_ON = {"api": "replicas", "worker-predict": "keda", "worker-control": "keda"}


def _min_replicas(name: str) -> int:
    if ALWAYS_ON.get(name) == "replicas":
        return _by_kind("Deployment")[name]["spec"]["replicas"]
    return _by_kind("ScaledObject")[name]["spec"]["minReplicaCount"]


def _budgets_of(workload: dict, budgets: dict[str, dict]) -> list[dict]:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return [b for b in budgets.values() if _selects(b["spec"]["selector"], labels)]


def test_every_pool_has_a_disruption_budget_that_selects_it():
    budgets = _by_kind("PodDisruptionBudget")
    pools = {name: d for name, d in _by_kind("Deployment").items() if name != "flower"}  # monitoring may go
    assert set(pools) == {"api", "redis", *K8S_POOLS}
    for name, workload in pools.items():
        (budget,) = _budgets_of(workload, budgets)
        assert budget["apiVersion"] == "policy/v1", name
        spec = budget["spec"]
        assert spec["selector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"], name
        if name in ALWAYS_ON:
            # One pod always stays; a drain can still go on because there are two or more.
            assert spec.get("minAvailable") == 1 and "maxUnavailable" not in spec, name
            assert _min_replicas(name) >= 2, f"{name}: with one replica a drain of its node waits forever"
            (spread,) = workload["spec"]["template"]["spec"]["topologySpreadConstraints"]
            assert spread["topologyKey"] == "kubernetes.io/hostname", name
            assert _selects(spread["labelSelector"], workload["spec"]["template"]["metadata"]["labels"]), name
        elif name in SCALE_TO_ZERO:
            # No pod is normal for these: a drain moves them one at a time instead of waiting on KEDA.
            assert spec == {"maxUnavailable": 1, "selector": spec["selector"]}, name
        else:
            assert name == "redis" and workload["spec"]["replicas"] == 1
            assert spec.get("maxUnavailable") == 0, "the only Redis: a drain waits for the operator"
    for name, budget in budgets.items():  # and no budget covers a pool it was not written for
        assert len([w for w in pools.values() if budget in _budgets_of(w, {name: budget})]) == 1, name


# --- deploy/k8s-sentinel/: Redis with Sentinel, opt-in ------------------------------------------------------


@functools.cache
def sentinel_manifests() -> dict[str, dict]:
    """deploy/k8s-sentinel/redis.yaml by kind."""
    return {d["kind"]: d for d in yaml.safe_load_all((K8S_SENTINEL / "redis.yaml").read_text()) if d}


@functools.cache
def kustomize_build(path: Path) -> tuple[dict, ...]:
    """What `kubectl apply -k path` would apply, rendered by kustomize (or kubectl's copy of it)."""
    if shutil.which("kustomize"):
        argv = ["kustomize", "build", str(path)]
    elif shutil.which("kubectl"):
        argv = ["kubectl", "kustomize", str(path)]
    else:
        pytest.skip("rendering an overlay needs kustomize or kubectl")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return tuple(d for d in yaml.safe_load_all(out.stdout) if d)


def test_k8s_sentinel_manifests_follow_the_kubernetes_schemas():
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    docs = sentinel_manifests()
    assert set(docs) == {"StatefulSet", "Service"}
    for doc in docs.values():
        kubernetes_validate.validate(doc, version, strict=True)
    broken = copy.deepcopy(docs["StatefulSet"])
    broken["spec"]["template"]["spec"]["containers"][1]["comand"] = []
    with pytest.raises(kubernetes_validate.ValidationError, match="comand"):
        kubernetes_validate.validate(broken, version, strict=True)


def test_k8s_sentinel_runs_three_nodes_each_with_a_sentinel_and_no_password_in_argv():
    statefulset, service = sentinel_manifests()["StatefulSet"], sentinel_manifests()["Service"]
    spec = statefulset["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    assert spec["replicas"] == 3 and spec["serviceName"] == service["metadata"]["name"]
    assert labels["app.kubernetes.io/component"] == "redis", "the base's NetworkPolicy and budget select it"
    (anti,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert anti["topologyKey"] == "kubernetes.io/hostname" and _selects(anti["labelSelector"], labels), "one pod per node"
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    assert service["spec"]["selector"].items() <= labels.items()
    assert pod["securityContext"]["runAsNonRoot"] is True
    (init,) = pod["initContainers"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {"redis", "sentinel"}
    assert containers["redis"]["command"] == ["redis-server", "/data/redis.conf"]
    assert containers["sentinel"]["command"] == ["redis-server", "/data/sentinel/sentinel.conf", "--sentinel"]
    ports = {p["name"]: p["containerPort"] for c in containers.values() for p in c["ports"]}
    assert ports == {"redis": 6379, "sentinel": 26379}
    assert {p["targetPort"] for p in service["spec"]["ports"]} == set(ports)
    assert init["command"][:2] == ["sh", "-c"]
    script = init["command"][2]
    _check_no_password_in_argv("init", script)
    _check_data_node_config("init", script)
    assert _check_sentinel_config("init", script) == "$primary"
    assert 'conf=/data/sentinel/sentinel.conf' in script and "> /data/redis.conf" in script
    assert 'primary="${primary:-redis-0.$nodes}"' in script, "the very first start: redis-0 is the primary"
    assert _secret_env(init, "REDIS_PASSWORD") == ("brigade-redis", "REDIS_PASSWORD")
    for container in [init, *containers.values()]:
        if container is not init:
            assert not any("PASSWORD" in arg or "$(" in arg for arg in container["command"]), container["name"]
        assert _secret_env(container, "REDISCLI_AUTH") == ("brigade-redis", "REDIS_PASSWORD"), container["name"]
        for probe in ("readinessProbe", "livenessProbe"):
            if probe in container:
                command = container[probe]["exec"]["command"][2]
                assert not re.search(r"\s(-a|--pass)\s", command), (container["name"], probe)
    assert "get-master-addr-by-name brigade | grep -qx 6379" in containers["sentinel"]["readinessProbe"]["exec"]["command"][2]
    assert "master_link_status:up" in containers["redis"]["readinessProbe"]["exec"]["command"][2], (
        "a replica still copying is not ready: the disruption budget then holds the next eviction")


def test_k8s_sentinel_overlay_is_opt_in_and_builds_on_the_default_files():
    base = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    overlay = yaml.safe_load((K8S_SENTINEL / "kustomization.yaml").read_text())
    assert not [r for r in base["resources"] if "sentinel" in r], "Sentinel is opt-in"
    assert overlay["resources"] == ["../k8s", "redis.yaml"] and overlay["namespace"] == base["namespace"]


def test_k8s_sentinel_overlay_renders_valid_objects_that_use_the_sentinels():
    import kubernetes_validate

    docs = kustomize_build(K8S_SENTINEL)
    version = kubernetes_validate.latest_version()
    keda = _strict(json.loads(KEDA_SCHEMA.read_text()))
    for doc in docs:
        if doc["apiVersion"].startswith("keda.sh/"):
            jsonschema.validate(doc, keda)
        else:
            kubernetes_validate.validate(doc, version, strict=True)
    by_kind: dict[str, dict[str, dict]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    # The single Redis is gone, the StatefulSet in its place.
    assert "redis" not in by_kind["Deployment"] and "redis" not in by_kind["Service"]
    assert "redis-data" not in by_kind["PersistentVolumeClaim"]
    statefulset = by_kind["StatefulSet"]["redis"]
    namespace = statefulset["metadata"]["namespace"]
    # The app asks the three Sentinels, by the names the headless Service gives the pods.
    settings = by_kind["ConfigMap"]["brigade-settings"]["data"]
    names = [f"redis-{i}.{statefulset['spec']['serviceName']}.{namespace}.svc.cluster.local:26379"
             for i in range(statefulset["spec"]["replicas"])]
    assert settings["REDIS_SENTINELS"].split(",") == names
    assert settings["REDIS_MASTER_NAME"] == "brigade" and settings["REDIS_MIN_REPLICAS_ACK"] == "1"
    assert int(settings["REDIS_ACK_TIMEOUT_MS"]) > 0 and "REDIS_ADDRESS" not in settings
    assert set(settings) <= {name for name, _, _ in settings_module.describe()}, "a key no setting reads"
    for name, deployment in by_kind["Deployment"].items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert {"configMapRef": {"name": "brigade-settings"}} in container["envFrom"], f"{name}: no REDIS_SENTINELS"
    for name, scaled in by_kind["ScaledObject"].items():
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "redis-sentinel", name
        assert {k: trigger["metadata"].get(k) for k in ("addressesFromEnv", "sentinelMasterFromEnv", "passwordFromEnv",
                                                         "sentinelPasswordFromEnv")} == {
            "addressesFromEnv": "REDIS_SENTINELS", "sentinelMasterFromEnv": "REDIS_MASTER_NAME",
            "passwordFromEnv": "REDIS_PASSWORD", "sentinelPasswordFromEnv": "REDIS_PASSWORD"}, name
        assert "addressFromEnv" not in trigger["metadata"], name
    # Network: Brigade's pods and KEDA reach 6379 and 26379 of the Redis pods (the Sentinels and
    # replicas among them), and the API may call out to both.
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    (policy,) = [p for p in by_kind["NetworkPolicy"].values()
                 if _selects(p["spec"]["podSelector"], pod_labels) and "Ingress" in p["spec"]["policyTypes"]]
    for port in (6379, 26379):
        (rule,) = [r for r in policy["spec"]["ingress"] if any(p["port"] == port for p in r["ports"])]
        assert _selects(rule["from"][0]["podSelector"], pod_labels), port  # the Redis pods talk to each other
        assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}} in rule["from"], port
    api_out = [r for r in by_kind["NetworkPolicy"]["api-egress"]["spec"]["egress"]
               if any(_selects(t.get("podSelector", {}), pod_labels) for t in r.get("to", []))]
    assert sorted(p["port"] for r in api_out for p in r["ports"]) == [6379, 26379]
    # Every pool has its budget; Redis's now lets a drain take one of the three.
    budgets = by_kind["PodDisruptionBudget"]
    for name, workload in {**by_kind["Deployment"], **by_kind["StatefulSet"]}.items():
        if name != "flower":
            assert len(_budgets_of(workload, budgets)) == 1, name
    (redis_budget,) = _budgets_of(statefulset, budgets)
    assert redis_budget["spec"]["maxUnavailable"] == 1


def test_the_deploy_files_run_redis_and_sentinel_as_the_cluster_harness_does():
    """devtools.procs defines the data node and Sentinel configs of `make cluster`: the settings
    that decide failover and write safety are the same in the deploy files, and what the app
    services are given are settings."""
    from devtools import procs

    node = [line for line in procs.redis_node_config("host", "pw").splitlines()
            if line.split()[0] in ("appendonly", "min-replicas-to-write", "min-replicas-max-lag")]
    sentinel = [line for line in procs.sentinel_config("host", "pw", "primary", "pw").splitlines()
                if line.split()[:2] in (["sentinel", "down-after-milliseconds"], ["sentinel", "failover-timeout"],
                                        ["sentinel", "parallel-syncs"])]
    assert len(node) == 3 and len(sentinel) == 3, (node, sentinel)
    services = sentinel_compose()["services"]
    nodes, sentinels = _sentinel_compose_roles()
    init = sentinel_manifests()["StatefulSet"]["spec"]["template"]["spec"]["initContainers"][0]["command"][2]
    for where, script, lines in [("compose data node", services[nodes[0]]["command"][2], node),
                                 ("compose sentinel", services[sentinels[0]]["command"][2], sentinel),
                                 ("k8s init", init, node + sentinel)]:
        for line in lines:
            assert line in script, (where, line)
    settings = {name for name, _, _ in settings_module.describe()}
    assert set(services["api"]["environment"]) <= settings
    read = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", SENTINEL_COMPOSE.read_text()))
    missing = read - set(env_example_names(ENV_EXAMPLE.read_text()))
    assert read and not missing, f"the Sentinel compose file reads variables .env.example does not list: {sorted(missing)}"
