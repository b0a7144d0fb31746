"""Outgoing webhooks: the event envelope, signed with HMAC-SHA256 over the exact body."""

import hashlib
import hmac

from app.application.messages import EventMessage
from app.infrastructure.messaging.codec import Envelope
from app.infrastructure.notifications.http import post

SIGNATURE_HEADER = "X-Outboxflow-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class SignedWebhookSender:
    """POSTs to every URL in turn; a failure at one URL fails (and retries) the delivery.

    Receivers that already accepted the event see it again on the retry, with the same
    ``Idempotency-Key``: deduplicate on it.
    """

    def __init__(self, urls: tuple[str, ...], secret: str) -> None:
        if urls and not secret:
            raise ValueError("WEBHOOK_SECRET must be set when WEBHOOK_URLS is")
        self._urls = urls
        self._secret = secret

    def post_event(self, message: EventMessage, *, idempotency_key: str) -> None:
        if not self._urls:
            return
        body = Envelope.of(message).to_json()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "X-Event-Type": message.event.event_type,
            SIGNATURE_HEADER: sign(self._secret, body),
        }
        for url in self._urls:
            post(url, data=body, headers=headers)
