"""What a process says as it starts: one line for a refused setting, and the open-endpoints
warning from the web process only (not from every ``flask`` command the relay or a user runs)."""

import logging
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from flask.cli import FlaskGroup

from app import create_app
from tests.support.inprocess import build_app

OPEN = "ADMIN_TOKEN is unset: operational endpoints are open"


def _flask(tmp_path: Path, *args: str, **env: str) -> click.testing.Result:
    """``flask --app app <args>`` in this process, with ``env`` as its environment."""
    base = {"INSTANCE_DIR": str(tmp_path), "CELERY_BROKER_URL": "memory://"}
    group = FlaskGroup(create_app=create_app)
    return CliRunner().invoke(group, list(args), env={**base, **env})


def test_a_webhook_without_a_secret_ends_a_flask_command_with_one_line(tmp_path: Path) -> None:
    result = _flask(tmp_path, "outbox", "stats", WEBHOOK_URLS="http://127.0.0.1:9/hook")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "outboxflow cannot start: WEBHOOK_URLS entry 1 (http://127.0.0.1:9) has no secret: "
        "set WEBHOOK_SECRET or write url|secret"
    ]


def test_a_flask_command_does_not_warn_about_open_endpoints(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="app"):
        result = _flask(tmp_path, "events", "schema")
    assert result.exit_code == 0, result.output
    assert not [r for r in caplog.records if "endpoints are open" in r.getMessage()]


@pytest.mark.parametrize("command", [None, "run"])
def test_the_web_process_warns_once_which_endpoints_are_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, command: str | None
) -> None:
    """A WSGI server builds the app outside any click command; ``flask run`` inside its own."""
    with caplog.at_level(logging.WARNING, logger="app"):
        if command is None:
            build_app(tmp_path)
        else:
            with click.Context(click.Command(command), info_name=command):
                build_app(tmp_path)
    warned = [r.getMessage() for r in caplog.records if "endpoints are open" in r.getMessage()]
    assert len(warned) == 2 and warned[0].startswith(OPEN), warned
