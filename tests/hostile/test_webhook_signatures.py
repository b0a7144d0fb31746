"""A webhook request cannot be replayed late, moved to another receiver, or relabelled.

Requests are captured from the real sender at real receivers on 127.0.0.1, then checked
the way a receiver would, with ``verify_signature``: as sent, replayed past the
tolerance, presented to another receiver, and with their headers swapped or edited.
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.application.messages import EventMessage, MessageContext
from app.bootstrap import bootstrap
from app.config import InvalidSettings, Settings
from app.infrastructure.notifications.endpoints import webhook_endpoints
from app.infrastructure.notifications.signature import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    InvalidSignature,
    verify_signature,
)
from app.infrastructure.notifications.webhooks import SignedWebhookSender
from tests.support.http_receiver import HttpReceiver, Request, http_receiver
from tests.support.inprocess import Api, app_factory
from tests.unit.samples import SAMPLE_EVENTS

SECRET_A = "receiver-a-secret-5d1f"
SECRET_B = "receiver-b-secret-93c0"
KEY = "3f1c7a52-0d7e-4e55-9a83-2b7f0c6d1e44:forward_to_webhooks"
SENT_AT = 1_700_000_000


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with http_receiver() as r:
        yield r


def message(index: int = 3) -> EventMessage:
    return EventMessage(SAMPLE_EVENTS[index], MessageContext("corr-1", "cause-1"))


def sent(receiver: HttpReceiver, urls: tuple[str, ...], secret: str = "", index: int = 3) -> None:
    """Each URL's request for sample event ``index``, signed at ``SENT_AT``."""
    SignedWebhookSender(urls, secret, clock=lambda: SENT_AT + 0.9).post_event(
        message(index), idempotency_key=KEY
    )


def accepted(secrets: str | list[str], request: Request, now: float = SENT_AT) -> bool:
    try:
        verify_signature(secrets, request.headers, request.body, now=now)
    except InvalidSignature:
        return False
    return True


def edited(request: Request, **headers: str) -> Request:
    """The same request with some headers replaced (``Idempotency_Key`` → ``Idempotency-Key``)."""
    replaced = {name.replace("_", "-"): value for name, value in headers.items()}
    kept = {k: v for k, v in request.headers.items() if k not in replaced}
    return Request(request.path, {**kept, **replaced}, request.body)


def test_a_receiver_verifies_a_fresh_request_with_the_snippet(receiver: HttpReceiver) -> None:
    SignedWebhookSender((receiver.url("/a"),), SECRET_A).post_event(message(), idempotency_key=KEY)
    [request] = receiver.requests
    verify_signature(SECRET_A, request.headers, request.body)
    lowered = {name.lower(): value for name, value in request.headers.items()}
    verify_signature(SECRET_A, lowered, request.body)
    assert json.loads(request.body)["event_type"] == "order.created"


def test_the_header_is_a_timestamp_and_a_v1_hmac(receiver: HttpReceiver) -> None:
    sent(receiver, (receiver.url("/a"),), SECRET_A)
    [request] = receiver.requests
    timestamp, v1 = request.headers[SIGNATURE_HEADER].split(",")
    assert timestamp == f"t={SENT_AT}"
    assert v1.startswith("v1=") and len(v1) == len("v1=") + 64
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["X-Event-Type"] == "order.created"


def test_a_replay_past_the_tolerance_is_refused(receiver: HttpReceiver) -> None:
    sent(receiver, (receiver.url("/a"),), SECRET_A)
    [request] = receiver.requests
    assert accepted(SECRET_A, request, now=SENT_AT + DEFAULT_TOLERANCE)
    assert not accepted(SECRET_A, request, now=SENT_AT + DEFAULT_TOLERANCE + 1)
    assert not accepted(SECRET_A, request, now=SENT_AT - DEFAULT_TOLERANCE - 1)
    with pytest.raises(InvalidSignature, match="past the 60 s allowed"):
        verify_signature(SECRET_A, request.headers, request.body, tolerance=60, now=SENT_AT + 61)


def test_a_replay_with_a_fresh_timestamp_is_refused(receiver: HttpReceiver) -> None:
    sent(receiver, (receiver.url("/a"),), SECRET_A)
    [request] = receiver.requests
    v1 = request.headers[SIGNATURE_HEADER].split(",")[1]
    later = SENT_AT + 3600
    replayed = edited(request, X_Outboxflow_Signature=f"t={later},{v1}")
    assert not accepted(SECRET_A, replayed, now=later)


def test_each_url_is_signed_with_its_own_secret_and_cannot_be_moved(
    receiver: HttpReceiver,
) -> None:
    urls = (f"{receiver.url('/a')}|{SECRET_A}", f"{receiver.url('/b')} | {SECRET_B}")
    sent(receiver, urls)
    to_a, to_b = receiver.requests
    assert (to_a.path, to_b.path) == ("/a", "/b")
    assert accepted(SECRET_A, to_a) and accepted(SECRET_B, to_b)
    assert not accepted(SECRET_B, to_a), "B took a request signed for A"
    assert not accepted(SECRET_A, to_b), "A took a request signed for B"


def test_a_url_without_its_own_secret_uses_webhook_secret(receiver: HttpReceiver) -> None:
    sent(receiver, (receiver.url("/a"), f"{receiver.url('/b')}|{SECRET_B}"), SECRET_A)
    to_a, to_b = receiver.requests
    assert accepted(SECRET_A, to_a) and not accepted(SECRET_B, to_a)
    assert accepted(SECRET_B, to_b) and not accepted(SECRET_A, to_b)


def test_swapping_the_idempotency_key_or_event_type_breaks_the_signature(
    receiver: HttpReceiver,
) -> None:
    sent(receiver, (receiver.url("/a"),), SECRET_A, index=3)
    sent(receiver, (receiver.url("/a"),), SECRET_A, index=0)
    created, registered = receiver.requests
    assert created.headers["X-Event-Type"] != registered.headers["X-Event-Type"]
    assert accepted(SECRET_A, created) and accepted(SECRET_A, registered)
    forgeries = [
        edited(created, X_Event_Type=registered.headers["X-Event-Type"]),
        edited(created, Idempotency_Key=KEY.replace("3f1c", "0000")),
        edited(created, Idempotency_Key=f"{KEY}.order", X_Event_Type="created"),
        edited(created, X_Outboxflow_Signature=registered.headers[SIGNATURE_HEADER]),
        Request(created.path, created.headers, created.body.replace(b"25.99", b"0.01")),
    ]
    assert [accepted(SECRET_A, forged) for forged in forgeries] == [False] * len(forgeries)


def test_several_secrets_on_a_url_sign_once_each_for_a_rotation(receiver: HttpReceiver) -> None:
    sent(receiver, (f"{receiver.url('/a')}|new-secret|old-secret",))
    [request] = receiver.requests
    assert request.headers[SIGNATURE_HEADER].count("v1=") == 2
    assert accepted("new-secret", request)
    assert accepted("old-secret", request)
    assert accepted(["unrelated", "old-secret"], request)
    assert not accepted(["unrelated", ""], request)


@pytest.mark.parametrize(
    "header",
    [
        "",
        "sha256=" + "0" * 64,
        f"v1={'0' * 64}",
        f"t={SENT_AT}",
        f"t=soon,v1={'0' * 64}",
        f"t={SENT_AT},t={SENT_AT},v1={'0' * 64}",
        f"t={'9' * 5000},v1={'0' * 64}",
        f"t={SENT_AT},v1=é",
        f"t={SENT_AT},v1",
        f"t=-{SENT_AT},v1={'0' * 64}",
    ],
)
def test_a_malformed_header_is_refused_cleanly(header: str) -> None:
    headers = {"X-Outboxflow-Signature": header, "Idempotency-Key": KEY, "X-Event-Type": "x"}
    with pytest.raises(InvalidSignature):
        verify_signature(SECRET_A, headers, b"{}", now=SENT_AT)


def test_each_attempt_is_signed_when_it_is_sent(receiver: HttpReceiver) -> None:
    clock = iter([SENT_AT, SENT_AT + 900])
    sender = SignedWebhookSender((receiver.url("/a"),), SECRET_A, clock=lambda: next(clock))
    sender.post_event(message(), idempotency_key=KEY)
    sender.post_event(message(), idempotency_key=KEY)
    first, retry = receiver.requests
    assert accepted(SECRET_A, first, now=SENT_AT)
    assert accepted(SECRET_A, retry, now=SENT_AT + 900)
    assert not accepted(SECRET_A, first, now=SENT_AT + 900)


def test_the_running_app_signs_per_url(receiver: HttpReceiver, tmp_path: Path) -> None:
    with app_factory(tmp_path) as make_app:
        app = make_app(
            WEBHOOK_URLS=f"{receiver.url('/a')}|{SECRET_A},{receiver.url('/b')}|{SECRET_B}"
        )
        Api(app.test_client()).register()
    by_path = {r.path: r for r in receiver.requests}
    assert set(by_path) == {"/a", "/b"}
    assert by_path["/a"].signed_with(SECRET_A) and not by_path["/a"].signed_with(SECRET_B)
    assert by_path["/b"].signed_with(SECRET_B) and not by_path["/b"].signed_with(SECRET_A)


@pytest.mark.parametrize(
    ("urls", "secret", "reason"),
    [
        ("https://h.example/p/tok3n|", "", r"entry 1 \(https://h.example\) has an empty"),
        (
            "https://a.example/x,https://b.example/tok3n",
            "",
            r"entry 1 \(https://a.example\) has no",
        ),
        ("https://a.example/x|s,https://b.example:8443/tok3n", "", r"2 \(https://b.example:8443\)"),
        ("ftp://files.example/tok3n|s", "", r"entry 1 \(ftp://files.example\) must be an http"),
        ("https://a.example:99999/tok3n|s", "", r"entry 1 \(\[redacted\]\) must be an http"),
        ("/relative/tok3n", "s", r"entry 1 \(\[redacted\]\) must be an http"),
    ],
)
def test_bad_webhook_urls_are_refused_in_one_line_without_the_secret(
    urls: str, secret: str, reason: str, tmp_path: Path
) -> None:
    env = {"WEBHOOK_URLS": urls, "WEBHOOK_SECRET": secret}
    with pytest.raises(ValueError, match=reason) as refused:
        Settings.from_env(env=env, instance_dir=tmp_path)
    assert "tok3n" not in str(refused.value) and "\n" not in str(refused.value)


def test_bootstrap_exits_with_the_reason(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WEBHOOK_URLS", "https://a.example/tok3n")
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))
    with pytest.raises(InvalidSettings, match="WEBHOOK_SECRET") as refused:
        bootstrap()
    assert "tok3n" not in str(refused.value.code)


def test_an_endpoint_never_shows_its_secret_or_path() -> None:
    [endpoint] = webhook_endpoints(["https://a.example/p/tok3n|s3cr3t"], "")
    assert endpoint.secrets == ("s3cr3t",)
    assert repr(endpoint) == "WebhookEndpoint(https://a.example, 1 secret(s))"
