"""Outgoing HTTP against a real local server: failure classes, signatures, headers."""

import json
import socket
from collections.abc import Iterator

import pytest

from app.application.errors import PermanentFailure, TransientFailure
from app.application.messages import EventMessage, MessageContext
from app.infrastructure.envelope import Envelope
from app.infrastructure.notifications.signature import SIGNATURE_HEADER, verify_signature
from app.infrastructure.notifications.webhooks import (
    SignedWebhookSender,
    SlackWebhookNotifier,
    post,
)
from tests.support.http_receiver import HttpReceiver, answer_by_path, http_receiver
from tests.unit.samples import SAMPLE_EVENTS

SECRET = "s3cr3t-for-tests"


@pytest.fixture(scope="module")
def server() -> Iterator[HttpReceiver]:
    with http_receiver(answer_by_path) as r:
        yield r


@pytest.fixture
def receiver(server: HttpReceiver) -> HttpReceiver:
    server.requests.clear()
    return server


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_success(receiver: HttpReceiver, status: int) -> None:
    post(receiver.url(f"/status/{status}"), data=b"{}", headers={})
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 410, 413, 422, 499])
def test_4xx_is_permanent(receiver: HttpReceiver, status: int) -> None:
    with pytest.raises(PermanentFailure, match=f"answered {status}"):
        post(receiver.url(f"/status/{status}"), data=b"{}", headers={})


@pytest.mark.parametrize("status", [408, 425, 429])
def test_retryable_4xx_is_transient(receiver: HttpReceiver, status: int) -> None:
    with pytest.raises(TransientFailure, match=f"answered {status}"):
        post(receiver.url(f"/status/{status}"), data=b"{}", headers={})


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_5xx_is_transient(receiver: HttpReceiver, status: int) -> None:
    with pytest.raises(TransientFailure, match=f"answered {status}"):
        post(receiver.url(f"/status/{status}"), data=b"{}", headers={})


def test_the_answer_body_is_quoted_in_the_error(receiver: HttpReceiver) -> None:
    with pytest.raises(PermanentFailure, match='"answered": 422'):
        post(receiver.url("/status/422"), data=b"{}", headers={})


def test_a_timeout_is_transient(receiver: HttpReceiver) -> None:
    with pytest.raises(TransientFailure):
        post(receiver.url("/slow/1.0"), data=b"{}", headers={}, timeout=0.2)


def test_a_refused_connection_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientFailure):
        post(f"http://127.0.0.1:{port}/", data=b"{}", headers={}, timeout=2)


def _message(index: int = 3) -> EventMessage:
    return EventMessage(SAMPLE_EVENTS[index], MessageContext("corr-7", "cause-7"))


def test_webhook_body_is_the_envelope_signed_with_a_timestamp(receiver: HttpReceiver) -> None:
    sender = SignedWebhookSender(
        (receiver.url("/a"), receiver.url("/b")), SECRET, clock=lambda: 1_700_000_000.7
    )
    message = _message()
    sender.post_event(message, idempotency_key="evt:forward_to_webhooks")
    assert [r.path for r in receiver.requests] == ["/a", "/b"]
    for request in receiver.requests:
        assert request.headers[SIGNATURE_HEADER].startswith("t=1700000000,v1=")
        verify_signature(SECRET, request.headers, request.body, now=1_700_000_000)
        assert request.headers["Idempotency-Key"] == "evt:forward_to_webhooks"
        assert request.headers["X-Event-Type"] == "order.created"
        assert request.headers["Content-Type"] == "application/json"
        assert Envelope.from_dict(json.loads(request.body)).to_message() == message
        assert json.loads(request.body)["payload"]["total"] == "25.99"


def test_a_failing_webhook_url_fails_the_delivery(receiver: HttpReceiver) -> None:
    sender = SignedWebhookSender((receiver.url("/ok"), receiver.url("/status/503")), SECRET)
    with pytest.raises(TransientFailure):
        sender.post_event(_message(), idempotency_key="k")
    sender = SignedWebhookSender((receiver.url("/status/400"),), SECRET)
    with pytest.raises(PermanentFailure):
        sender.post_event(_message(), idempotency_key="k")


def test_without_urls_nothing_is_sent(receiver: HttpReceiver) -> None:
    SignedWebhookSender((), "").post_event(_message(), idempotency_key="k")
    assert receiver.requests == []


def test_urls_without_a_secret_are_refused_at_startup(receiver: HttpReceiver) -> None:
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        SignedWebhookSender((receiver.url("/a"),), "")


def test_slack_gets_the_text_and_the_idempotency_key(receiver: HttpReceiver) -> None:
    SlackWebhookNotifier(receiver.url("/hooks/T0")).post(text="New order", idempotency_key="e:n")
    [request] = receiver.requests
    assert json.loads(request.body) == {"text": "New order"}
    assert request.headers["Idempotency-Key"] == "e:n"
    with pytest.raises(PermanentFailure):
        SlackWebhookNotifier(receiver.url("/status/404")).post(text="x", idempotency_key="k")
