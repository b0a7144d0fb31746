"""URLs in errors, shown as scheme + host (+ port) only.

A webhook URL's path, query or userinfo is often the credential itself (Slack's incoming
webhooks, tokens in a query string). Errors end up in the dead-letter store, the worker
log, ``/api/dead-letters`` and the ops page, so every error about an outgoing call names
its URL through ``redact_url`` and never quotes a library's message that may embed it.
"""

from urllib.parse import unquote, urlsplit

REDACTED = "[redacted]"


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/services/T/B/secret`` → ``https://hooks.slack.com``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return REDACTED
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def secret_parts(url: str) -> list[str]:
    """The pieces of ``url`` that may be a credential, longest first, as written and decoded."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return [url]
    pieces = {url, parts.path, parts.query, parts.fragment, user or "", password or ""}
    if parts.query:
        pieces.add(f"{parts.path}?{parts.query}")
    pieces |= {unquote(piece) for piece in pieces}
    return sorted((p for p in pieces if len(p) > 1), key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` (a receiver's answer, say) with every secret part of ``url`` replaced."""
    for piece in secret_parts(url):
        text = text.replace(piece, REDACTED)
    return text


def describe_request_error(exc: BaseException) -> str:
    """Why a request failed, without the URL that ``requests`` puts in its messages.

    The exception's class, and the operating system's reason when one is underneath
    (``Connection refused``, ``Name or service not known``): enough to act on, and
    nothing a library formatted around the URL.
    """
    reason = _os_reason(exc)
    return f"{type(exc).__name__} ({reason})" if reason else type(exc).__name__


def _os_reason(exc: BaseException) -> str | None:
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        strerror = getattr(current, "strerror", None)
        if isinstance(current, OSError) and isinstance(strerror, str) and strerror:
            return strerror
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += list(current.args)
        pending += [e for e in linked if isinstance(e, BaseException)]
    return None
