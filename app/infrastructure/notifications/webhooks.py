"""Outgoing HTTP: Slack's incoming webhook and our signed event webhooks.

Both POST through ``post``, which sorts a receiver's failures into those worth a retry and
those for the dead-letter store, and names the URL in them as scheme + host only: a
webhook URL's path is often its credential, and these errors are stored and shown.
"""

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from http.cookiejar import DefaultCookiePolicy

import requests

from app.application.errors import PermanentFailure, TransientFailure
from app.application.messages import EventMessage
from app.infrastructure.envelope import Envelope
from app.infrastructure.notifications.endpoints import webhook_endpoints
from app.infrastructure.notifications.redaction import describe_request_error, redact_url, scrub
from app.infrastructure.notifications.signature import (
    EVENT_TYPE_HEADER,
    KEY_HEADER,
    SIGNATURE_HEADER,
    sign,
)

log = logging.getLogger(__name__)

RETRYABLE_4XX = frozenset({408, 425, 429})


def post(url: str, *, data: bytes, headers: dict[str, str], timeout: float = 10.0) -> None:
    """POST; return on 2xx, raise TransientFailure (5xx, 408/429, network) or PermanentFailure.

    The failure carries no cause or context: ``requests``' own exceptions spell out the
    full URL, and a chained one would put it back in the stored traceback.
    """
    where = redact_url(url)
    answer = _send(url, data, headers, timeout)
    if isinstance(answer, str):
        raise TransientFailure(f"POST {where} failed: {scrub(answer, url)}")
    status = answer.status_code
    if 200 <= status < 300:
        return
    detail = f"POST {where} answered {status}: {scrub(answer.text[:200], url)}"
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        raise PermanentFailure(detail)
    raise TransientFailure(detail)


def _send(
    url: str, data: bytes, headers: dict[str, str], timeout: float
) -> requests.Response | str:
    """The answer, or why there is none (returned, not raised, so nothing chains to it)."""
    try:
        return _session(url).post(url, data=data, headers=headers, timeout=timeout)
    except requests.Timeout as exc:
        return f"{describe_request_error(exc)} after {timeout:g} s"
    except requests.RequestException as exc:
        return describe_request_error(exc)


_NO_COOKIES = DefaultCookiePolicy(allowed_domains=[])
"""A partner's cookie is not sent back: each call goes out as a lone ``requests.post`` did."""


class _Sessions(threading.local):
    """This process's and thread's ``requests.Session`` per partner (scheme, host, port).

    A kept session keeps its connection open between deliveries: no TCP (and TLS) handshake
    per call. A session is made in the process that uses it: one inherited through the
    pool's fork would share its socket with the parent and the sibling processes, so a
    process that finds another's sessions starts afresh. Per thread, as ``requests`` does
    not promise a session is safe to share between threads (a threads pool gets one each).
    A connection the partner closed while idle is replaced when it is next taken; one that
    breaks mid-request fails the call as before (a retry, with the same idempotency key).
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.by_partner: dict[str, requests.Session] = {}


_sessions = _Sessions()


def _session(url: str) -> requests.Session:
    if _sessions.pid != os.getpid():
        _sessions.pid, _sessions.by_partner = os.getpid(), {}
    partner = redact_url(url)
    session = _sessions.by_partner.get(partner)
    if session is None:
        session = requests.Session()
        session.cookies.set_policy(_NO_COOKIES)
        _sessions.by_partner[partner] = session
    return session


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
    """Without ``SLACK_WEBHOOK_URL`` messages go to the log."""

    def post(self, *, text: str, idempotency_key: str) -> None:
        log.info("slack (SLACK_WEBHOOK_URL not set) [%s]: %s", idempotency_key, text)


class SignedWebhookSender:
    """POSTs the event envelope to every URL in turn; a failure at one URL fails (and
    retries) the delivery.

    Each request is signed for its URL's secrets at the moment it is sent (see
    ``signature``). Receivers that already accepted the event see it again on the retry,
    with the same ``Idempotency-Key``: deduplicate on it.
    """

    def __init__(
        self, urls: Sequence[str], secret: str, clock: Callable[[], float] = time.time
    ) -> None:
        """``urls`` are ``WEBHOOK_URLS`` entries: ``url`` or ``url|secret[|secret…]``."""
        self._endpoints = webhook_endpoints(urls, secret)
        self._clock = clock

    def post_event(self, message: EventMessage, *, idempotency_key: str) -> None:
        if not self._endpoints:
            return
        body = Envelope.of(message).to_json()
        event_type = message.event.event_type
        for endpoint in self._endpoints:
            signature = sign(
                endpoint.secrets, int(self._clock()), idempotency_key, event_type, body
            )
            headers = {
                "Content-Type": "application/json",
                KEY_HEADER: idempotency_key,
                EVENT_TYPE_HEADER: event_type,
                SIGNATURE_HEADER: signature,
            }
            post(endpoint.url, data=body, headers=headers)
