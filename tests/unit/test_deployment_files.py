"""The Procfile, docker-compose.yml and .env.example describe the same system.

Docker is not available where the suite runs, so the compose file is checked for what
can drift without anyone noticing: the process commands it shares with the Procfile,
the settings it passes, exactly one beat, the files its inline Dockerfile copies, which
services each broker profile starts, the probes, and the production auth settings.
"""

import re
import shlex
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SHARED_PROCESSES = ("worker", "relay", "beat")
APP_SERVICES = ("migrate", "web", "worker", "relay", "beat", "flower")
BROKERS = ("rabbitmq", "redis")


def _entries(filename: str, separator: str) -> dict[str, str]:
    """``name<separator>value`` lines of a file, skipping blanks and ``#`` comments."""
    lines = (ROOT / filename).read_text().splitlines()
    pairs = (line.split(separator, 1) for line in lines if line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def _procfile() -> dict[str, str]:
    return _entries("Procfile", ":")


def _env_example() -> dict[str, str]:
    return _entries(".env.example", "=")


def _commented_out_settings() -> set[str]:
    """Names .env.example shows only as ``# NAME=example`` (an empty value would be wrong)."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {m.group(1) for line in lines if (m := re.match(r"# ([A-Z][A-Z0-9_]+)=\S", line))}


def _started(compose: dict[str, Any], profile: str) -> set[str]:
    """The services ``docker compose --profile <profile> up`` starts."""
    return {
        name
        for name, service in compose["services"].items()
        if not service.get("profiles") or profile in service["profiles"]
    }


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_env_example_lists_every_setting() -> None:
    listed = set(_env_example())
    missing = {f.name.upper() for f in fields(Settings)} - listed
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_env_example_values_are_the_defaults(tmp_path: Path) -> None:
    example = {k: v for k, v in _env_example().items() if k != "INSTANCE_DIR"}
    from_example = Settings.from_env(env=example, instance_dir=tmp_path)
    assert from_example == Settings.from_env(env={}, instance_dir=tmp_path)


def _assignments_and_command(line: str) -> tuple[dict[str, str], str]:
    """A Procfile line's leading ``NAME=value`` words, and the command after them."""
    assignments: dict[str, str] = {}
    words = line.split(" ")
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        name, value = words.pop(0).split("=", 1)
        assignments[name] = value
    return assignments, " ".join(words)


@pytest.mark.parametrize("process", SHARED_PROCESSES)
def test_compose_runs_the_procfile_command(compose: dict[str, Any], process: str) -> None:
    """Same command; a variable the Procfile sets for it is set by compose too."""
    assignments, command = _assignments_and_command(_procfile()[process])
    service = compose["services"][process]
    assert service["command"] == command
    assert set(assignments) <= set(service["environment"])


def test_compose_flower_and_web_run_the_same_programs(compose: dict[str, Any]) -> None:
    services = compose["services"]
    flower = shlex.split(services["flower"]["command"])
    assert flower[:4] == ["celery", "-A", "tasks", "flower"]
    assert "--port=5555" in flower and "--port=5555" in _procfile()["flower"]
    web = shlex.split(services["web"]["command"])
    assert web[0] == "gunicorn" and web[-1] == "app:create_app()"
    assert "--preload" in web, "a refused start must stop gunicorn, not respawn workers"
    assert services["migrate"]["command"] == "flask --app app db upgrade"


LIBRARY_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR"}
"""Read by a library, not by Settings, and documented in the README: an empty line for it
in .env (copied from .env.example) would switch prometheus-client's multiprocess mode on."""


def test_compose_passes_only_documented_settings(compose: dict[str, Any]) -> None:
    documented = set(_env_example()) | _commented_out_settings() | LIBRARY_VARIABLES
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        undocumented = set(environment) - documented
        assert not undocumented, f"{name} passes {sorted(undocumented)}"
        assert environment["DATABASE_URL"].startswith("postgresql+psycopg://")


def test_each_stack_starts_only_its_broker(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for broker in BROKERS:
        assert services[broker]["profiles"] == [broker]
        started = _started(compose, broker)
        assert broker in started and not (set(BROKERS) - {broker}) & started, started
        assert set(APP_SERVICES) | {"postgres"} <= started
    for name in APP_SERVICES:
        for dependency, condition in services[name].get("depends_on", {}).items():
            if dependency in BROKERS:
                assert condition["required"] is False, (name, dependency)
    default_url = compose["x-app-environment"]["CELERY_BROKER_URL"]
    assert re.fullmatch(r"\$\{CELERY_BROKER_URL:-amqp://[^}]*@rabbitmq:5672//\}", default_url)


def test_compose_runs_in_production_and_requires_its_secrets(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        environment = compose["services"][name]["environment"]
        assert environment["APP_ENV"] == "production", name
        for secret in ("ADMIN_TOKEN", "SECRET_KEY"):
            assert environment[secret].startswith(f"${{{secret}:?"), (name, secret)
        assert environment["LOG_FORMAT"] == "${LOG_FORMAT:-json}", name
        assert environment["API_TOKENS"] == "${API_TOKENS:-}", name


def test_flower_needs_a_login(compose: dict[str, Any]) -> None:
    environment = compose["services"]["flower"]["environment"]
    assert environment["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    assert environment["FLOWER_UNAUTHENTICATED_API"] == "false"
    assert "FLOWER_UNAUTHENTICATED_API" not in _procfile()["flower"]
    assert _env_example()["FLOWER_UNAUTHENTICATED_API"] == "false"
    assert "FLOWER_BASIC_AUTH" not in _env_example(), "an empty basic auth locks everyone out"


def test_compose_probes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    web_probe = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:5000/readyz" in web_probe
    assert "http://127.0.0.1:5555/healthcheck" in " ".join(
        services["flower"]["healthcheck"]["test"]
    )
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    for name in ("postgres", *BROKERS):
        assert services[name]["healthcheck"]["test"], name
    for name in ("web", "worker", "beat"):
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["flower"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_compose_has_exactly_one_beat(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "container_name" in services["beat"], "a named container cannot be scaled"
    assert "container_name" not in services["worker"], "workers must scale"
    beats = [n for n, s in services.items() if " beat" in str(s.get("command", ""))]
    assert beats == ["beat"]


def test_inline_dockerfile_copies_files_that_exist(compose: dict[str, Any]) -> None:
    dockerfile = compose["x-app"]["build"]["dockerfile_inline"]
    copied = [
        source
        for line in dockerfile.splitlines()
        if (match := re.match(r"\s*COPY\s+(.+)\s+\S+$", line))
        for source in match.group(1).split()
    ]
    assert {"pyproject.toml", "app", "tasks", "migrations", "celeryconfig.py"} <= set(copied)
    for source in copied:
        assert (ROOT / source).exists(), source
