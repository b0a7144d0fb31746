"""The HTTP headers of a signed webhook POST, as the JSON Schema the event catalog shows.

The names and the signature's format are ``signature``'s, the one place that signs and
verifies them; this only describes them to a receiver.
"""

from typing import Any

from app.infrastructure.notifications.signature import (
    DEFAULT_TOLERANCE,
    EVENT_TYPE_HEADER,
    KEY_HEADER,
    SCHEME,
    SIGNATURE_HEADER,
)

SIGNATURE_PATTERN = rf"^t=[0-9]{{1,12}}(,{SCHEME}=[0-9a-f]{{64}})+$"


def webhook_headers(event_type: str, key_example: str) -> dict[str, Any]:
    """The headers of the POST carrying an event of ``event_type``; ``key_example`` shows
    the Idempotency-Key's form (``<event_id>:<handler>``)."""
    return {
        "type": "object",
        "properties": {
            "Content-Type": {"type": "string", "const": "application/json"},
            KEY_HEADER: {
                "type": "string",
                "description": f"`{key_example}`: the same on every retry of this event to "
                "this receiver. Deduplicate on it.",
            },
            EVENT_TYPE_HEADER: {
                "type": "string",
                "const": event_type,
                "description": "The envelope's `event_type`.",
            },
            SIGNATURE_HEADER: {
                "type": "string",
                "pattern": SIGNATURE_PATTERN,
                "description": f"`t=<unix seconds>,{SCHEME}=<hex>[,{SCHEME}=<hex>…]`: each "
                f"`{SCHEME}` is HMAC-SHA256, keyed with one of the receiver's secrets, over "
                f"`<t>\\n<{KEY_HEADER}>\\n<{EVENT_TYPE_HEADER}>\\n<body bytes>`. Refuse a "
                f"request whose `t` is more than {DEFAULT_TOLERANCE} s from your clock; one "
                f"matching `{SCHEME}` is enough (several mean a secret rotation).",
            },
        },
        "required": ["Content-Type", KEY_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER],
    }
