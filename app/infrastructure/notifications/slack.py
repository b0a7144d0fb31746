"""Slack incoming webhook; without ``SLACK_WEBHOOK_URL`` messages go to the log."""

import json
import logging

from app.infrastructure.notifications.http import post

log = logging.getLogger(__name__)


class SlackWebhookNotifier:
    def __init__(self, url: str) -> None:
        self._url = url

    def post(self, *, text: str, idempotency_key: str) -> None:
        post(
            self._url,
            data=json.dumps({"text": text}).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
        )


class LoggingChatNotifier:
    def post(self, *, text: str, idempotency_key: str) -> None:
        log.info("slack (SLACK_WEBHOOK_URL not set) [%s]: %s", idempotency_key, text)
