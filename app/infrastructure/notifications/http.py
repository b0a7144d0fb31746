"""HTTP calls to receivers, with failures classified for retry or dead letter."""

import requests

from app.application.errors import PermanentFailure, TransientFailure

RETRYABLE_4XX = frozenset({408, 425, 429})


def post(url: str, *, data: bytes, headers: dict[str, str], timeout: float = 10.0) -> None:
    """POST; return on 2xx, raise TransientFailure (5xx, 408/429, network) or PermanentFailure."""
    try:
        response = requests.post(url, data=data, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise TransientFailure(f"POST {url} failed: {exc}") from exc
    status = response.status_code
    if 200 <= status < 300:
        return
    detail = f"POST {url} answered {status}: {response.text[:200]}"
    if 400 <= status < 500 and status not in RETRYABLE_4XX:
        raise PermanentFailure(detail)
    raise TransientFailure(detail)
