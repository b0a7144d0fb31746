"""outboxflow: commands over HTTP, events through a transactional outbox, Celery handlers."""

import logging
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Unpack

import click
from flask import Flask

from app.config import MIGRATIONS_DIR, Settings

if TYPE_CHECKING:
    from app.bootstrap import Adapters


log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, **overrides: Unpack["Adapters"]) -> Flask:
    """The web (and ``flask`` CLI) app: ``bootstrap``'s Flask app with the HTTP API and commands.

    Connects to nothing yet. ``overrides`` replace named adapters (see ``bootstrap``).
    With ``APP_ENV=production`` and settings unfit for it (no long ADMIN_TOKEN, no
    SECRET_KEY) it raises ``StartupRefused``: the web server or CLI that called it exits
    with a one-line reason. Without SECRET_KEY (development only) the session key is
    random per process: ops-page sign-ins then last as long as the process.
    """
    from flask_migrate import Migrate

    from app.api import auth, register_api
    from app.bootstrap import bootstrap
    from app.cli import register_cli
    from app.infrastructure.persistence.database import db

    container = bootstrap(settings, **overrides)
    settings = container.settings
    app = container.flask_app
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_session_cookie,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.ops_session_hours),
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    Migrate(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    register_api(app)
    register_cli(app)
    if _serving_http():
        for line in auth.open_endpoints_report(app):
            log.warning("%s", line)
    return app


def _serving_http() -> bool:
    """Whether this process is the web server: a WSGI server (gunicorn, a test) builds the
    app outside any ``flask`` command, ``flask run`` inside its own. Other ``flask``
    commands (the relay, ``dead-letters``, ``db upgrade``) serve nothing, so they do not
    warn about open endpoints."""
    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"
