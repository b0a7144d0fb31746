"""Settings, read from the environment once, when a process bootstraps (never at import)."""

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from app.infrastructure.messaging.broker_kind import is_sentinel
from app.infrastructure.notifications.endpoints import webhook_endpoints

DEFAULT_BROKER_URL = "redis://127.0.0.1:6390/0"
PRODUCTION = "production"
APP_ENVS = ("development", PRODUCTION)
MIN_ADMIN_TOKEN_LENGTH = 32
LOG_FORMATS = ("text", "json")
RABBITMQ_QUEUE_TYPES = ("classic", "quorum")
MAX_OPS_SESSION_HOURS = 24 * 31
"""Flask's own default cookie lifetime: no ops sign-in should outlast it."""
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
"""The Alembic scripts: ``flask db`` runs them, readiness compares the database with them."""


def _default_instance_dir() -> Path:
    return (Path.cwd() / "instance").resolve()


@dataclass(frozen=True)
class Settings:
    """Every setting with its default; ``.env.example`` lists the same names."""

    instance_dir: Path = field(default_factory=_default_instance_dir)
    database_url: str = ""
    database_direct_url: str = ""
    """The database without a pooler between: for what needs a session (LISTEN).

    Set it when ``database_url`` goes through a transaction-pooling PgBouncer; the pooled
    connections then prepare no statements (the pooler cannot keep them). Empty: the
    session features use ``database_url`` too.
    """
    celery_broker_url: str = DEFAULT_BROKER_URL
    celery_result_backend: str = ""
    broker_key_prefix: str = ""
    broker_sentinel_master: str = ""
    """The Redis master's name at the Sentinels of a ``sentinel://`` broker or result backend."""
    rabbitmq_queue_type: str = "classic"
    """``quorum``: every queue is replicated across a RabbitMQ cluster (ignored on Redis)."""
    smtp_url: str = ""
    slack_webhook_url: str = ""
    webhook_urls: tuple[str, ...] = ()
    """Entries ``url`` or ``url|secret[|secret…]``: a URL's own secrets, else ``webhook_secret``."""
    webhook_secret: str = ""
    outbox_relay_interval: float = 1.0
    outbox_relay_batch: int = 500
    outbox_claim_lease_seconds: int = 4
    outbox_redelivery_seconds: int = 300
    outbox_max_attempts: int = 8
    outbox_lease_margin_seconds: int = 30
    outbox_retry_backoff_seconds: int = 2
    outbox_retry_backoff_max_seconds: int = 600
    outbox_retention_hours: float = 72.0
    outbox_retention_interval: float = 3600.0
    app_env: str = "development"
    secret_key: str = ""
    """Signs the ops page's session cookie and CSRF tokens; unset: a random key per process."""
    admin_token: str = ""
    api_tokens: tuple[str, ...] = ()
    session_cookie_secure: str = ""
    """``true``/``false``; empty: the ops session cookie is ``Secure`` in production only."""
    ops_session_hours: float = 8.0
    """How long an ops-page sign-in lasts, counted from the sign-in: using it never extends it."""
    log_format: str = ""
    max_request_bytes: int = 64 * 1024
    idempotency_key_ttl_hours: float = 24.0
    read_your_writes_timeout_ms: int = 2000
    order_store: str = "state"
    task_always_eager: bool = False
    task_sent_events: bool = False
    """Publish Celery's ``task-sent`` event beside every delivery (Flower's *sent* state).
    Off: the outbox's ``dispatched`` status says the same, and the event was a second broker
    message per delivery, over a quarter of a relay's publishing time."""
    task_soft_time_limit: int = 30
    """Seconds before a task gets ``SoftTimeLimitExceeded`` (retried like any failure)."""
    task_time_limit: int = 60
    """Seconds before the worker kills a task's process; above the soft limit."""
    host_name: str = ""
    """The name this host's following relay records its heartbeat under; empty: the
    machine's hostname. Give each host its own: hosts that share a name share one row, and
    one live relay then hides a dead one."""
    worker_metrics_listen: str = ""
    """``host:port`` where a worker serves its pool's metrics; empty: no exporter."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, f.type, raw)
        values.update(overrides)
        settings = cls(**values)
        if not settings.database_url:
            url = f"sqlite:///{settings.instance_dir / 'outboxflow.db'}"
            settings = replace(settings, database_url=url)
        if settings.outbox_relay_interval <= 0:
            raise ValueError("OUTBOX_RELAY_INTERVAL must be a positive number of seconds")
        if settings.outbox_max_attempts < 1:
            raise ValueError("OUTBOX_MAX_ATTEMPTS must be at least 1")
        if settings.app_env not in APP_ENVS:
            raise ValueError(f"APP_ENV must be one of {APP_ENVS}, got {settings.app_env!r}")
        if settings.log_format not in ("", *LOG_FORMATS):
            raise ValueError(
                f"LOG_FORMAT must be one of {LOG_FORMATS}, got {settings.log_format!r}"
            )
        secure = settings.session_cookie_secure
        if secure.lower() not in ("", "true", "false"):
            raise ValueError(f"SESSION_COOKIE_SECURE must be true or false, got {secure!r}")
        if settings.order_store not in ("state", "events"):
            raise ValueError(f"ORDER_STORE must be state or events, got {settings.order_store!r}")
        if settings.rabbitmq_queue_type not in RABBITMQ_QUEUE_TYPES:
            raise ValueError(
                f"RABBITMQ_QUEUE_TYPE must be one of {RABBITMQ_QUEUE_TYPES}, "
                f"got {settings.rabbitmq_queue_type!r}"
            )
        sentinel_urls = [
            url
            for url in (settings.celery_broker_url, settings.celery_result_backend)
            if is_sentinel(url)
        ]
        if sentinel_urls and not settings.broker_sentinel_master:
            raise ValueError("a sentinel:// URL needs BROKER_SENTINEL_MASTER (the master's name)")
        if settings.task_soft_time_limit >= settings.task_time_limit:
            raise ValueError("TASK_SOFT_TIME_LIMIT must be below TASK_TIME_LIMIT")
        if not 0 < settings.ops_session_hours <= MAX_OPS_SESSION_HOURS:
            raise ValueError(
                f"OPS_SESSION_HOURS must be a number of hours above 0 and at most "
                f"{MAX_OPS_SESSION_HOURS}, got {settings.ops_session_hours!r}"
            )
        webhook_endpoints(settings.webhook_urls, settings.webhook_secret)
        return settings

    def is_set(self, name: str) -> bool:
        """Whether the setting of environment name ``name`` (``WEBHOOK_URLS``) has a value;
        a name that is no setting raises ``KeyError`` (a handler requiring it is a typo)."""
        field_name = name.lower()
        if name != field_name.upper() or field_name not in _FIELD_NAMES:
            raise KeyError(f"{name!r} is not a setting; the settings are in .env.example")
        return bool(getattr(self, field_name))

    @property
    def production(self) -> bool:
        return self.app_env == PRODUCTION

    @property
    def host(self) -> str:
        """``HOST_NAME``, or the machine's hostname."""
        return self.host_name or socket.gethostname()

    @property
    def secure_session_cookie(self) -> bool:
        """Whether browsers may send the ops session cookie over HTTPS only."""
        chosen = self.session_cookie_secure.lower()
        return chosen == "true" if chosen else self.production

    @property
    def json_logs(self) -> bool:
        """LOG_FORMAT, or when it is empty: JSON in production, text elsewhere."""
        return (self.log_format or ("json" if self.production else "text")) == "json"

    def production_problems(self) -> list[str]:
        """Why these settings are not fit to serve in production (empty when they are)."""
        if not self.production:
            return []
        problems = []
        if len(self.admin_token) < MIN_ADMIN_TOKEN_LENGTH:
            problems.append(
                f"ADMIN_TOKEN must be set to at least {MIN_ADMIN_TOKEN_LENGTH} characters"
            )
        if not self.secret_key:
            problems.append("SECRET_KEY must be set")
        if any(len(token) < MIN_ADMIN_TOKEN_LENGTH for token in self.api_tokens):
            problems.append(f"API_TOKENS must each be at least {MIN_ADMIN_TOKEN_LENGTH} characters")
        return problems


_FIELD_NAMES = frozenset(f.name for f in fields(Settings))


class InvalidSettings(SystemExit):
    """A setting from the environment is malformed: one line naming it (exit status 1)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"outboxflow cannot start: {reason}")


class StartupRefused(SystemExit):
    """Ends the process with a one-line reason (and exit status 1), not a traceback."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            f"outboxflow refuses to start with APP_ENV={PRODUCTION}: " + "; ".join(problems)
        )


def settings_to_start_with(settings: Settings | None = None) -> Settings:
    """``settings`` (by default the environment's) once a process may start with them.

    A malformed setting raises ``InvalidSettings`` and, with ``APP_ENV=production``,
    settings unfit to serve raise ``StartupRefused``: each ends the process with one line.
    Every process checks here before it builds anything (the gunicorn master included,
    so it stops rather than fork workers that would each refuse).
    """
    if settings is None:
        try:
            settings = Settings.from_env()
        except ValueError as exc:
            raise InvalidSettings(str(exc)) from None
    problems = settings.production_problems()
    if problems:
        raise StartupRefused(problems)
    return settings


def _parse(name: str, kind: Any, raw: str) -> Any:
    """One environment value as the field's type; a bad value names its variable."""
    if kind == tuple[str, ...]:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind is Path:
        return Path(raw).resolve()
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(f"{name.upper()} must be {kind.__name__}, got {raw!r}") from None
