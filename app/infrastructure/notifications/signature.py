"""The webhook signature: ``X-Outboxflow-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]``.

Each ``v1`` is HMAC-SHA256, keyed with the receiver's secret, over::

    <t> "\\n" <Idempotency-Key> "\\n" <X-Event-Type> "\\n" <body bytes>

The timestamp lets a receiver refuse a replay older than its tolerance; the two headers
are signed so neither can be swapped onto another body (a newline separates the fields
because no header value can contain one, so no field can be shifted into its neighbour).
Within the tolerance a receiver deduplicates on ``Idempotency-Key``, as it must anyway
for retries. Several ``v1`` values mean several secrets (a rotation in progress): one
match is enough.

Only the standard library is used, so a receiver can copy this file as it is.
"""

import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping

SIGNATURE_HEADER = "X-Outboxflow-Signature"
KEY_HEADER = "Idempotency-Key"
EVENT_TYPE_HEADER = "X-Event-Type"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300
"""Seconds a signature stays valid either side of the receiver's clock."""


class InvalidSignature(ValueError):
    """The request is not one we signed recently: refuse it (401 or 400)."""


def signed_string(timestamp: int, idempotency_key: str, event_type: str, body: bytes) -> bytes:
    return f"{timestamp}\n{idempotency_key}\n{event_type}\n".encode() + body


def _digest(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(
    secrets: Iterable[str], timestamp: int, idempotency_key: str, event_type: str, body: bytes
) -> str:
    """The header value: one ``v1`` per secret, all over the same timestamp."""
    message = signed_string(timestamp, idempotency_key, event_type, body)
    return ",".join([f"t={timestamp}", *(f"{SCHEME}={_digest(s, message)}" for s in secrets)])


def verify_signature(
    secrets: str | Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Return if the request was signed with one of ``secrets`` within ``tolerance`` seconds.

    ``headers`` may be any mapping (names are matched whatever their case); ``body`` must be
    the raw bytes received, before any JSON parsing. Raises ``InvalidSignature`` saying why.
    """
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    by_name = {name.lower(): value for name, value in headers.items()}
    timestamp, signatures = _parse(by_name.get(SIGNATURE_HEADER.lower(), ""))
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance:
        raise InvalidSignature(f"timestamp is {age:.0f} s from now, past the {tolerance} s allowed")
    message = signed_string(
        timestamp,
        by_name.get(KEY_HEADER.lower(), ""),
        by_name.get(EVENT_TYPE_HEADER.lower(), ""),
        body,
    )
    expected = [_digest(secret, message) for secret in candidates if secret]
    given = [s.encode("utf-8", "replace") for s in signatures]
    if not any(hmac.compare_digest(e.encode(), g) for e in expected for g in given):
        raise InvalidSignature("no signature matches")


def _parse(header: str) -> tuple[int, list[str]]:
    """``t=…,v1=…,v1=…`` → (t, [v1, …]); other schemes are ignored, for later versions."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t":
            timestamps.append(value)
        elif name == SCHEME:
            signatures.append(value)
    if len(timestamps) != 1 or not re.fullmatch(r"[0-9]{1,12}", timestamps[0]):
        raise InvalidSignature(f"{SIGNATURE_HEADER} must carry one t=<unix seconds>")
    if not signatures:
        raise InvalidSignature(f"{SIGNATURE_HEADER} carries no {SCHEME} signature")
    return int(timestamps[0]), signatures
