"""The composition root: what ``bootstrap`` builds, what it replaces, and what it refuses."""

from pathlib import Path

import pytest
from flask import Flask

from app.bootstrap import bootstrap
from app.config import InvalidSettings, Settings, StartupRefused
from app.container import container_of
from tests.fakes import FakeChat, FakeEmailSender
from tests.support.inprocess import build_app, container
from tests.support.services import free_port


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        env={"CELERY_BROKER_URL": "memory://", **env},
        instance_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path}/never-opened.db",
    )


def test_bootstrap_connects_to_nothing(tmp_path: Path) -> None:
    """A database and a broker nobody listens on: building the process still succeeds."""
    port = free_port()
    built = bootstrap(
        Settings.from_env(
            env={
                "DATABASE_URL": f"postgresql+psycopg://u:p@127.0.0.1:{port}/none",
                "CELERY_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{port}//",
            },
            instance_dir=tmp_path,
        )
    )
    assert container_of(built.flask_app) is built
    assert built.flask_app.extensions["celery"] is built.celery


def test_the_celery_app_takes_its_time_limits_from_settings(tmp_path: Path) -> None:
    built = bootstrap(_settings(tmp_path, TASK_SOFT_TIME_LIMIT="40", TASK_TIME_LIMIT="90"))
    assert (built.celery.conf.task_soft_time_limit, built.celery.conf.task_time_limit) == (40, 90)
    assert built.celery.conf.task_acks_late is True, "the celeryconfig baseline still applies"
    assert built.runner.policy.task_lease.total_seconds() == 90 + 30


def test_named_adapters_replace_the_ones_settings_pick(tmp_path: Path) -> None:
    email, chat = FakeEmailSender(), FakeChat()
    app = build_app(tmp_path, email=email, chat=chat)
    try:
        response = app.test_client().post(
            "/api/users", json={"email": "ada@example.com", "name": "Ada"}
        )
        assert response.status_code == 201
        assert [sent.to for sent in email.sent] == ["ada@example.com"]
        assert container(app).outbound.chat is chat
        assert not (tmp_path / "maildir").exists(), "the maildir sender was not used"
    finally:
        container(app).engine.dispose()


def test_an_unknown_adapter_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="no adapter named mailer; it replaces only chat, email"):
        bootstrap(_settings(tmp_path), mailer=FakeEmailSender())  # type: ignore[call-arg]


def test_production_settings_unfit_to_serve_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StartupRefused, match="ADMIN_TOKEN must be set"):
        bootstrap(_settings(tmp_path, APP_ENV="production", SECRET_KEY="k"))


def test_an_app_bootstrap_did_not_build_has_no_container() -> None:
    with pytest.raises(RuntimeError, match="Flask app 'bare' has no outboxflow container"):
        container_of(Flask("bare"))


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        (
            {"TASK_SOFT_TIME_LIMIT": "70", "TASK_TIME_LIMIT": "60"},
            "TASK_SOFT_TIME_LIMIT must be below TASK_TIME_LIMIT",
        ),
        ({"OUTBOX_MAX_ATTEMPTS": "many"}, "OUTBOX_MAX_ATTEMPTS must be int, got 'many'"),
    ],
)
def test_a_malformed_setting_ends_the_process_with_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str], reason: str
) -> None:
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSettings) as refused:
        bootstrap()
    assert str(refused.value) == f"outboxflow cannot start: {reason}"
