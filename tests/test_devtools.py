"""The developer harness (devtools/) and the direction of the imports: docs/SETTINGS.md is what the
generator writes, `make run` says what it starts, brigade/ (what the API and the workers share at run
time) imports no other package of the repo, and no runtime package imports the harness."""

from __future__ import annotations

import ast
import importlib.util
import stat

import pytest

from brigade.settings import ROOT, describe
from devtools import procs, run_stack, settings_doc

pytestmark = pytest.mark.unit  # its layer (tests/conftest.py): source and generator output, in this process

#: The repo's own top-level packages.
PACKAGES = {path.parent.name for path in ROOT.glob("*/__init__.py")}
#: What the API and the workers run; none of it may import the harness (devtools/, bench/, tests/).
RUNTIME = ("app", "tasks", "worker", "models", "media", "brigade")
HARNESS = {"devtools", "bench", "tests"}


def imports(package: str) -> dict[str, set[str]]:
    """Each module of `package` -> the top-level names it imports, function-level imports included
    (relative imports stay inside the package and are left out)."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def _offenders(package: str, forbidden: set[str]) -> dict[str, list[str]]:
    return {module: sorted(names & forbidden) for module, names in imports(package).items() if names & forbidden}


def test_the_import_walker_sees_function_level_imports():
    # run_stack imports models.build.photos inside sample_clip(): the walker must see it, or it proves nothing
    assert "models" in imports("devtools")["devtools/run_stack.py"]
    assert {"app", "tasks", "models", "devtools", "bench"} <= PACKAGES


def test_brigade_imports_no_other_package_of_the_repo():
    # brigade/ is the bottom of the house: app/, tasks/, models/, media/ and the harness import it,
    # never the reverse. Today it imports only itself (media/ and models/ included among the
    # forbidden: no exception is needed).
    offenders = _offenders("brigade", PACKAGES - {"brigade"})
    assert not offenders, f"brigade/ must import only itself, the stdlib and third-party packages: {offenders}"


def test_no_runtime_package_imports_the_dev_harness():
    offenders = {}
    for package in RUNTIME:
        offenders |= _offenders(package, HARNESS)
    assert not offenders, f"the API and the workers must run without devtools/, bench/ and tests/: {offenders}"


# --- docs/SETTINGS.md ----------------------------------------------------------------------------------


def test_settings_md_is_the_generated_one():
    assert settings_doc.SETTINGS_DOC.read_text() == settings_doc.settings_md(), (
        "docs/SETTINGS.md is stale (a setting was added, or its default or help changed): run `make docs`")


def test_settings_md_puts_every_setting_under_its_section_once():
    sections = settings_doc.sections()
    titles = [title for title, _ in sections]
    assert "Settings" not in titles, "a setting of brigade/settings.py has no `# --- section ---` comment above it"
    assert len(titles) == len(set(titles))
    listed = [name for _, settings in sections for name, _, _ in settings]
    assert sorted(listed) == sorted(name for name, _, _ in describe())
    text = settings_doc.settings_md()
    for name in listed:
        assert text.count(f"| `{name}` | ") in (1, 2)  # its section's row, and the containers' one if any


# --- make run ------------------------------------------------------------------------------------------


def test_run_stack_says_what_it_starts():
    table = run_stack.processes(True, replicas=2, shards=2)
    kinds = [name.rstrip("0123456789") for name, _ in table]
    described = " ".join(run_stack.__doc__.lower().split())
    missing = [kind for kind in dict.fromkeys(kinds) if kind not in described]
    assert not missing, f"devtools/run_stack.py's docstring does not name the processes {missing} it starts"
    assert run_stack.summary([name for name, _ in table]) == "redis, predict ×2, control, shard ×2, events, api, flower"


def test_run_stack_commands_name_modules_that_exist():
    for name, cmd in run_stack.processes(True, replicas=1, shards=1):
        modules = [cmd[i + 1] for i, arg in enumerate(cmd[:-1]) if arg == "-m"]
        for module in modules:
            assert importlib.util.find_spec(module) is not None, f"{name}: python -m {module}"
        if name != "redis":
            assert modules[0] == "devtools.wait_redis", f"{name} does not wait for the embedded Redis"


def test_run_stack_keeps_secrets_out_of_command_lines(tmp_path, monkeypatch):
    """The Redis password lives in a 0600 config file that redis-server reads, Flower's basic auth in
    its environment: the process table (the Procfile's text, every process's argv) holds no secret."""
    monkeypatch.setattr(run_stack, "REDIS_PASSWORD_FILE", tmp_path / "redis-password")
    monkeypatch.setattr(run_stack, "REDIS_CONFIG_FILE", tmp_path / "redis.conf")
    url = run_stack.embedded_redis_url()
    password = (tmp_path / "redis-password").read_text().strip()
    assert len(password) >= 32 and url == f"redis://:{password}@127.0.0.1:{run_stack.EMBEDDED_REDIS_PORT}/0"
    assert run_stack.embedded_redis_url() == url, "the password is reused on later runs"
    for name in ("redis-password", "redis.conf"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    assert f"requirepass {password}" in (tmp_path / "redis.conf").read_text().splitlines()
    assert password not in procs.redacted(url) and procs.redacted(url).startswith("redis://:***@")
    assert procs.redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    table = run_stack.processes(True, replicas=1, shards=1)
    (redis_cmd,) = [cmd for name, cmd in table if name == "redis"]
    assert str(tmp_path / "redis.conf") in redis_cmd, "redis-server must read the password from its config file"
    flower = procs.flower_env("admin", "s3cret-pass")
    assert flower == {"FLOWER_BASIC_AUTH": "admin:s3cret-pass"}
    text = " ".join(" ".join(cmd) for _, cmd in table)
    assert "--basic-auth" not in text and "requirepass" not in text and password not in text
    with pytest.raises(ValueError):
        procs.flower_env("admin", "a,b")  # Flower would read two credentials
    procfile = tmp_path / "Procfile"
    procfile.write_text("old")
    procfile.chmod(0o644)
    run_stack.write_private(procfile, "new\n")
    assert procfile.read_text() == "new\n" and stat.S_IMODE(procfile.stat().st_mode) == 0o600
