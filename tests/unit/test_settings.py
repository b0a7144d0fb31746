import socket
from pathlib import Path

import pytest

from app.config import DEFAULT_BROKER_URL, Settings


def test_defaults_without_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(env={}, instance_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path / 'outboxflow.db'}"
    assert settings.celery_broker_url == DEFAULT_BROKER_URL
    assert settings.celery_broker_url.startswith("redis://127.0.0.1:")
    assert settings.webhook_urls == ()
    assert (settings.smtp_url, settings.slack_webhook_url, settings.webhook_secret) == ("", "", "")
    assert settings.outbox_relay_interval == 1.0
    assert settings.max_request_bytes == 64 * 1024
    assert settings.task_always_eager is False


def test_every_issue_2_variable_is_read(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql+psycopg://u:p@127.0.0.1:5432/outboxflow",
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/1",
        "SMTP_URL": "smtp://127.0.0.1:1025",
        "SLACK_WEBHOOK_URL": "http://127.0.0.1:9/slack",
        "WEBHOOK_URLS": " http://127.0.0.1:9/a, ,http://127.0.0.1:9/b ,",
        "WEBHOOK_SECRET": "shh",
        "OUTBOX_RELAY_INTERVAL": "0.25",
    }
    settings = Settings.from_env(env=env, instance_dir=tmp_path)
    assert settings.database_url == env["DATABASE_URL"]
    assert settings.celery_broker_url == env["CELERY_BROKER_URL"]
    assert settings.celery_result_backend == env["CELERY_RESULT_BACKEND"]
    assert settings.smtp_url == env["SMTP_URL"]
    assert settings.slack_webhook_url == env["SLACK_WEBHOOK_URL"]
    assert settings.webhook_urls == ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b")
    assert settings.webhook_secret == "shh"
    assert settings.outbox_relay_interval == 0.25


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), ("YES", True), (" on ", True), ("0", False), ("no", False)],
)
def test_booleans(raw: str, expected: bool, tmp_path: Path) -> None:
    settings = Settings.from_env(env={"TASK_ALWAYS_EAGER": raw}, instance_dir=tmp_path)
    assert settings.task_always_eager is expected


def test_numbers_and_paths(tmp_path: Path) -> None:
    env = {
        "MAX_REQUEST_BYTES": "1024",
        "OUTBOX_RELAY_BATCH": "50",
        "INSTANCE_DIR": str(tmp_path / "x" / ".." / "inst"),
    }
    settings = Settings.from_env(env=env)
    assert settings.max_request_bytes == 1024
    assert settings.outbox_relay_batch == 50
    assert settings.instance_dir == (tmp_path / "inst").resolve()
    assert settings.database_url == f"sqlite:///{(tmp_path / 'inst').resolve() / 'outboxflow.db'}"


def test_empty_values_mean_default(tmp_path: Path) -> None:
    settings = Settings.from_env(
        env={"CELERY_BROKER_URL": "", "OUTBOX_RELAY_INTERVAL": ""}, instance_dir=tmp_path
    )
    assert settings.celery_broker_url == DEFAULT_BROKER_URL
    assert settings.outbox_relay_interval == 1.0


def test_overrides_win_over_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        env={"DATABASE_URL": "sqlite:///from-env.db", "TASK_ALWAYS_EAGER": "0"},
        database_url="sqlite:///override.db",
        task_always_eager=True,
        instance_dir=tmp_path,
    )
    assert (settings.database_url, settings.task_always_eager) == ("sqlite:///override.db", True)


def test_an_explicit_mapping_ignores_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///leaked.db")
    monkeypatch.setenv("WEBHOOK_URLS", "http://127.0.0.1:9/leak")
    settings = Settings.from_env(env={}, instance_dir=tmp_path)
    assert "leaked" not in settings.database_url
    assert settings.webhook_urls == ()


def test_the_process_environment_is_the_default_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///from-process.db")
    assert Settings.from_env(instance_dir=tmp_path).database_url == "sqlite:///from-process.db"


@pytest.mark.parametrize("raw", ["0", "-1"])
def test_relay_interval_must_be_positive(raw: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="OUTBOX_RELAY_INTERVAL"):
        Settings.from_env(env={"OUTBOX_RELAY_INTERVAL": raw}, instance_dir=tmp_path)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("OUTBOX_RELAY_INTERVAL", "soon"),
        ("MAX_REQUEST_BYTES", "64k"),
        ("OUTBOX_RELAY_BATCH", "1.5"),
    ],
)
def test_unparseable_numbers_are_refused(name: str, raw: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Settings.from_env(env={name: raw}, instance_dir=tmp_path)


def test_task_time_limits_default_to_thirty_and_sixty_seconds(tmp_path: Path) -> None:
    settings = Settings.from_env(
        env={"TASK_SOFT_TIME_LIMIT": "", "TASK_TIME_LIMIT": ""}, instance_dir=tmp_path
    )
    assert (settings.task_soft_time_limit, settings.task_time_limit) == (30, 60)


def test_task_time_limits_are_read(tmp_path: Path) -> None:
    env = {"TASK_SOFT_TIME_LIMIT": "50", "TASK_TIME_LIMIT": "90"}
    settings = Settings.from_env(env=env, instance_dir=tmp_path)
    assert (settings.task_soft_time_limit, settings.task_time_limit) == (50, 90)


@pytest.mark.parametrize(("soft", "hard"), [("60", "60"), ("70", "60"), ("", "20")])
def test_the_soft_time_limit_must_be_below_the_hard_one(
    soft: str, hard: str, tmp_path: Path
) -> None:
    env = {"TASK_SOFT_TIME_LIMIT": soft, "TASK_TIME_LIMIT": hard}
    with pytest.raises(ValueError, match=r"^TASK_SOFT_TIME_LIMIT must be below TASK_TIME_LIMIT$"):
        Settings.from_env(env=env, instance_dir=tmp_path)


def test_a_time_limit_that_is_not_a_whole_number_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="TASK_TIME_LIMIT must be int, got '1m'"):
        Settings.from_env(env={"TASK_TIME_LIMIT": "1m"}, instance_dir=tmp_path)


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = Settings.from_env(env={}, instance_dir=tmp_path)
    with pytest.raises(AttributeError):
        settings.database_url = "x"  # type: ignore[misc]


def test_access_and_log_settings(tmp_path: Path) -> None:
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": "s",
        "ADMIN_TOKEN": "a" * 32,
        "API_TOKENS": f" {'1' * 32}, ,{'2' * 40} ",
        "LOG_FORMAT": "text",
    }
    settings = Settings.from_env(env=env, instance_dir=tmp_path)
    assert settings.production and settings.secret_key == "s"
    assert settings.api_tokens == ("1" * 32, "2" * 40)
    assert settings.json_logs is False
    assert settings.production_problems() == []


@pytest.mark.parametrize(
    ("env", "json_logs"),
    [
        ({}, False),
        ({"APP_ENV": "production"}, True),
        ({"LOG_FORMAT": "json"}, True),
        ({"APP_ENV": "production", "LOG_FORMAT": "text"}, False),
    ],
)
def test_log_format_defaults_to_json_in_production(
    env: dict[str, str], json_logs: bool, tmp_path: Path
) -> None:
    assert Settings.from_env(env=env, instance_dir=tmp_path).json_logs is json_logs


@pytest.mark.parametrize(
    ("env", "problems"),
    [
        ({}, ["ADMIN_TOKEN", "SECRET_KEY"]),
        ({"ADMIN_TOKEN": "a" * 31, "SECRET_KEY": "s"}, ["ADMIN_TOKEN"]),
        ({"ADMIN_TOKEN": "a" * 32}, ["SECRET_KEY"]),
        (
            {"ADMIN_TOKEN": "a" * 32, "SECRET_KEY": "s", "API_TOKENS": f"{'b' * 32},short"},
            ["API_TOKENS"],
        ),
        ({"ADMIN_TOKEN": "a" * 32, "SECRET_KEY": "s", "API_TOKENS": "b" * 32}, []),
    ],
)
def test_production_names_what_is_missing(
    env: dict[str, str], problems: list[str], tmp_path: Path
) -> None:
    settings = Settings.from_env(env={"APP_ENV": "production", **env}, instance_dir=tmp_path)
    found = settings.production_problems()
    assert [p.split()[0] for p in found] == problems
    development = Settings.from_env(env=env, instance_dir=tmp_path)
    assert development.production_problems() == []


@pytest.mark.parametrize(("name", "value"), [("APP_ENV", "prod"), ("LOG_FORMAT", "xml")])
def test_unknown_app_env_or_log_format_is_refused(name: str, value: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=name):
        Settings.from_env(env={name: value}, instance_dir=tmp_path)


@pytest.mark.parametrize(
    ("env", "secure"),
    [
        ({}, False),
        ({"APP_ENV": "production"}, True),
        ({"APP_ENV": "production", "SESSION_COOKIE_SECURE": "false"}, False),
        ({"SESSION_COOKIE_SECURE": "TRUE"}, True),
    ],
)
def test_the_session_cookie_is_secure_in_production_unless_told(
    env: dict[str, str], secure: bool, tmp_path: Path
) -> None:
    assert Settings.from_env(env=env, instance_dir=tmp_path).secure_session_cookie is secure


def test_a_session_cookie_secure_that_is_not_a_boolean_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SESSION_COOKIE_SECURE must be true or false"):
        Settings.from_env(env={"SESSION_COOKIE_SECURE": "maybe"}, instance_dir=tmp_path)


def test_the_rabbitmq_queue_type_is_classic_or_quorum(tmp_path: Path) -> None:
    assert Settings.from_env(env={}, instance_dir=tmp_path).rabbitmq_queue_type == "classic"
    quorum = Settings.from_env(env={"RABBITMQ_QUEUE_TYPE": "quorum"}, instance_dir=tmp_path)
    assert quorum.rabbitmq_queue_type == "quorum"
    with pytest.raises(ValueError, match=r"RABBITMQ_QUEUE_TYPE must be one of .* got 'mirrored'"):
        Settings.from_env(env={"RABBITMQ_QUEUE_TYPE": "mirrored"}, instance_dir=tmp_path)


@pytest.mark.parametrize("name", ["CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"])
def test_a_sentinel_url_needs_the_master_name(name: str, tmp_path: Path) -> None:
    url = "sentinel://127.0.0.1:26379;sentinel://127.0.0.1:26380"
    with pytest.raises(ValueError, match="BROKER_SENTINEL_MASTER"):
        Settings.from_env(env={name: url}, instance_dir=tmp_path)
    named = Settings.from_env(
        env={name: url, "BROKER_SENTINEL_MASTER": "mymaster"}, instance_dir=tmp_path
    )
    assert named.broker_sentinel_master == "mymaster"


def test_host_name_defaults_to_the_machine_s_hostname(tmp_path: Path) -> None:
    assert Settings.from_env(env={}, instance_dir=tmp_path).host == socket.gethostname()
    named = Settings.from_env(env={"HOST_NAME": "host-b"}, instance_dir=tmp_path)
    assert named.host == "host-b"
