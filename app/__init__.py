"""outboxflow: commands over HTTP, events through a transactional outbox, Celery handlers."""

import secrets
from pathlib import Path

from flask import Flask

from app.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app, its Celery app and the container. Connects to nothing yet.

    Without SECRET_KEY the session key is random per process: ops-page sign-ins then
    last as long as the process and do not carry over between gunicorn workers.
    """
    from flask_migrate import Migrate

    from app.api import register_api
    from app.cli import register_cli
    from app.container import build_container
    from app.infrastructure.messaging.celery_app import celery_init_app
    from app.infrastructure.persistence.database import db, engine_options, tune_engine

    settings = settings or Settings.from_env()
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=str(settings.instance_dir))
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SECRET_KEY=settings.secret_key or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    db.init_app(app)
    Migrate(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    celery = celery_init_app(app, settings)
    with app.app_context():
        tune_engine(db.engine)
        app.extensions["outboxflow"] = build_container(settings, db.engine, celery)
    register_api(app)
    register_cli(app)
    return app
