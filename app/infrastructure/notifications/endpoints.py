"""Where signed webhooks go: ``WEBHOOK_URLS`` entries, each ``url`` or ``url|secret[|secret…]``.

An entry's own secret signs its requests, so one receiver's secret cannot forge a request
to another; an entry without one falls back to ``WEBHOOK_SECRET``. Several secrets on an
entry put one ``v1`` each in the signature header, for a rotation: the receiver switches
to the new secret when it likes, then the old one is taken off the entry.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.infrastructure.notifications.redaction import redact_url


@dataclass(frozen=True)
class WebhookEndpoint:
    url: str
    secrets: tuple[str, ...]

    def __repr__(self) -> str:
        """Never the path or the secrets: an endpoint may end up in a log line."""
        return f"WebhookEndpoint({redact_url(self.url)}, {len(self.secrets)} secret(s))"


def webhook_endpoints(entries: Iterable[str], default_secret: str) -> tuple[WebhookEndpoint, ...]:
    """Parse the entries; a bad one raises ValueError naming it by number and host only."""
    endpoints = []
    for number, entry in enumerate(entries, start=1):
        url, *secrets = [part.strip() for part in entry.split("|")]
        where = f"WEBHOOK_URLS entry {number} ({redact_url(url)})"
        if not _is_http_url(url):
            raise ValueError(f"{where} must be an http:// or https:// URL with a host")
        if not all(secrets):
            raise ValueError(f"{where} has an empty secret after '|'")
        if not secrets and not default_secret:
            raise ValueError(f"{where} has no secret: set WEBHOOK_SECRET or write url|secret")
        endpoints.append(WebhookEndpoint(url, tuple(secrets) or (default_secret,)))
    return tuple(endpoints)


def _is_http_url(url: str) -> bool:
    """``port`` raises ValueError when the port is not a number from 0 to 65535."""
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:
        return False
