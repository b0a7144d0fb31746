"""Which handlers a process subscribes: those whose required settings are set.

``bootstrap`` builds ``Subscriptions(HANDLERS, settings.is_set)`` once; a unit of work
writes deliveries for the handlers it names and for no other.
"""

from pathlib import Path

import pytest

from app.application.event_handlers.registry import HANDLERS, subscribers
from app.application.event_handlers.specs import ALL_EVENTS, HandlerSpec, external_handler
from app.application.event_handlers.subscriptions import Subscriptions
from app.config import Settings


def _noop(*_: object) -> None:
    return None


def _spec(name: str, requires: tuple[str, ...] = ()) -> HandlerSpec:
    return external_handler(name, {"order.created"}, _noop, "notifications", requires=requires)


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(env=env, instance_dir=tmp_path)


def test_a_handler_lacking_a_required_setting_gets_no_deliveries() -> None:
    plain, partner = _spec("plain"), _spec("partner", requires=("PARTNER_URL",))
    subscriptions = Subscriptions([plain, partner], lambda name: False)
    assert subscriptions("order.created") == ["plain"]
    assert subscriptions("user.registered") == []
    found = subscriptions.get("partner")
    assert found is not None and not found.enabled
    assert found.disabled_reason == "PARTNER_URL is not set"
    assert subscriptions.get("plain") is not None and subscriptions.get("nobody") is None


def test_every_missing_setting_is_named_in_the_spec_s_order() -> None:
    spec = _spec("partner", requires=("PARTNER_URL", "PARTNER_KEY", "PARTNER_REGION"))
    (only,) = Subscriptions([spec], lambda name: name == "PARTNER_KEY").all
    assert only.missing == ("PARTNER_URL", "PARTNER_REGION")
    assert only.disabled_reason == "PARTNER_URL and PARTNER_REGION are not set"


def test_a_handler_is_enabled_once_every_setting_it_requires_is_set() -> None:
    spec = _spec("partner", requires=("PARTNER_URL",))
    subscriptions = Subscriptions([spec], lambda name: True)
    assert subscriptions("order.created") == ["partner"]
    assert [(s.enabled, s.disabled_reason) for s in subscriptions.all] == [(True, None)]


def test_without_webhook_urls_only_the_webhook_handler_is_left_out(tmp_path: Path) -> None:
    subscriptions = Subscriptions(HANDLERS, _settings(tmp_path).is_set)
    disabled = {s.spec.name: s.disabled_reason for s in subscriptions.all if not s.enabled}
    assert disabled == {"forward_to_webhooks": "WEBHOOK_URLS is not set"}
    for event_type in ALL_EVENTS:
        expected = [name for name in subscribers(event_type) if name != "forward_to_webhooks"]
        assert subscriptions(event_type) == expected


def test_with_webhook_urls_every_declared_handler_is_subscribed(tmp_path: Path) -> None:
    settings = _settings(tmp_path, WEBHOOK_URLS="http://127.0.0.1:9/hook|secret")
    subscriptions = Subscriptions(HANDLERS, settings.is_set)
    assert all(s.enabled for s in subscriptions.all)
    for event_type in ALL_EVENTS:
        assert subscriptions(event_type) == subscribers(event_type)


def test_emails_and_the_sales_channel_need_no_setting_they_have_stand_ins() -> None:
    """Maildir without SMTP_URL, the log without SLACK_WEBHOOK_URL: effects one can read."""
    required = {spec.name: spec.requires for spec in HANDLERS if spec.requires}
    assert required == {"forward_to_webhooks": ("WEBHOOK_URLS",)}


def test_every_required_name_is_a_setting(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    for spec in HANDLERS:
        for name in spec.requires:
            settings.is_set(name)  # raises KeyError for a name that is no setting


@pytest.mark.parametrize("name", ["WEBHOOK_URL", "webhook_urls", "Webhook_Urls", ""])
def test_a_name_that_is_no_setting_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(KeyError, match="is not a setting"):
        _settings(tmp_path).is_set(name)


def test_a_setting_is_set_when_it_has_a_value(tmp_path: Path) -> None:
    settings = _settings(tmp_path, SLACK_WEBHOOK_URL="http://127.0.0.1:9/slack")
    assert settings.is_set("SLACK_WEBHOOK_URL")
    assert not settings.is_set("SMTP_URL")
    assert not settings.is_set("WEBHOOK_URLS")
