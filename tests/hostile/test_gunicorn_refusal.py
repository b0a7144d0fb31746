"""gunicorn with settings unfit to serve stops, with the reason once, instead of booting
worker after worker that each refuse. Real gunicorn processes, started as a deployment
starts them: the compose file's web command, and the same without ``--preload``.
"""

import shlex
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.support.databases import process_env
from tests.support.processes import GUNICORN, ManagedProcess
from tests.support.services import HOST, free_port

pytestmark = pytest.mark.system

ROOT = Path(__file__).resolve().parents[2]
REFUSED = "outboxflow refuses to start with APP_ENV=production: "
INVALID = "outboxflow cannot start: "
EXIT_WITHIN_SECONDS = 20.0
"""A refusal takes about a second; a looping master would still run at this deadline."""


def _compose_web_argv(port: int) -> list[str]:
    """docker-compose.yml's web command, bound to ``port`` on the loopback."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    argv = shlex.split(compose["services"]["web"]["command"])
    assert argv[0] == "gunicorn" and "--bind" in argv, argv
    argv[0] = GUNICORN
    argv[argv.index("--bind") + 1] = f"{HOST}:{port}"
    return argv


def _without_preload(port: int) -> list[str]:
    return [arg for arg in _compose_web_argv(port) if arg != "--preload"]


def _run_gunicorn(tmp_path: Path, argv: list[str], **settings: str) -> tuple[int | None, str]:
    """Start gunicorn, wait for it to exit by itself; (its status or None, its output)."""
    env = process_env(
        {
            "APP_ENV": "production",
            "INSTANCE_DIR": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path}/prod.db",
            "CELERY_BROKER_URL": "memory://",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
            **settings,
        }
    )
    web = ManagedProcess(
        "gunicorn", argv, env=env, cwd=tmp_path, log_path=tmp_path / "gunicorn.log"
    ).start()
    deadline = time.monotonic() + EXIT_WITHIN_SECONDS
    try:
        while web.running and time.monotonic() < deadline:
            time.sleep(0.1)
        status = web.returncode
    finally:
        web.stop(timeout=5)
    return status, web.log_text()


@pytest.mark.parametrize(
    "command", [_compose_web_argv, _without_preload], ids=["compose", "no-preload"]
)
def test_gunicorn_exits_once_without_an_admin_token(
    tmp_path: Path, command: Callable[[int], list[str]]
) -> None:
    status, output = _run_gunicorn(
        tmp_path, command(free_port()), SECRET_KEY="a-secret-key-for-sessions"
    )
    assert status is not None, f"gunicorn still ran after {EXIT_WITHIN_SECONDS}s:\n{output}"
    assert status != 0, output
    assert output.count(REFUSED) == 1, output
    assert "ADMIN_TOKEN must be set" in output
    assert "Booting worker" not in output, "the master forked workers it knew would refuse"
    assert "Traceback" not in output, output


def test_gunicorn_exits_once_on_a_malformed_setting(tmp_path: Path) -> None:
    status, output = _run_gunicorn(
        tmp_path,
        _without_preload(free_port()),
        ADMIN_TOKEN="p" * 32,
        SECRET_KEY="a-secret-key-for-sessions",
        OUTBOX_MAX_ATTEMPTS="0",
    )
    assert status is not None, f"gunicorn still ran after {EXIT_WITHIN_SECONDS}s:\n{output}"
    assert status != 0, output
    assert output.count(INVALID) == 1, output
    assert "OUTBOX_MAX_ATTEMPTS must be at least 1" in output
    assert "Booting worker" not in output
    assert "Traceback" not in output, output
