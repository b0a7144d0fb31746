"""Who may call which endpoint: one access category per endpoint, checked before the view.

Categories (``Access``):

* ``PUBLIC``: the probes (``/healthz``, ``/readyz``), the API document (``/api/openapi.json``,
  ``/api/docs``) and the event catalog (``/api/asyncapi.json``, ``/api/asyncapi``). Always open.
* ``API``: commands and queries. When ``API_TOKENS`` is set they need
  ``Authorization: Bearer <one of API_TOKENS>``; ``ADMIN_TOKEN`` is accepted too.
* ``OPERATIONS``: everything an operator's tools call (``/api/outbox/stats``,
  ``/api/dead-letters*``, ``/api/events*``, ``/api/traces*``, ``/metrics``). They need
  ``Authorization: Bearer <ADMIN_TOKEN>`` when ``ADMIN_TOKEN`` is set.
* ``SIGN_IN``: operational pages for people in a browser (``/ops``). The blueprint signs
  people in with ``ADMIN_TOKEN`` (a session cookie) and checks every request itself, so
  this guard lets them through; ``admin_token_matches`` checks the offered token.

An endpoint that declares nothing is ``OPERATIONS``: new routes are closed by default. Declare
a category with one line, for a whole blueprint or for one view (the view's wins)::

    auth.protect(blueprint, Access.API)

    @blueprint.get("/healthz")
    @auth.access(Access.PUBLIC)
    def healthz(): ...

Static files are PUBLIC. Without ``ADMIN_TOKEN`` (development only: ``APP_ENV=production``
refuses to start without it) the operational endpoints are open, and the app factory logs
which ones (``open_endpoints_report``). Tokens are compared in constant time.
"""

import hashlib
import hmac
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from app.config import Settings
from app.container import container_of

F = TypeVar("F", bound=Callable[..., Any])
_ATTRIBUTE = "outboxflow_access"
ANONYMOUS = "anonymous"
"""The caller of a request whose endpoint needed no token (``caller``)."""


class Access(StrEnum):
    PUBLIC = "public"
    API = "api"
    OPERATIONS = "operations"
    SIGN_IN = "sign_in"


def protect(blueprint: Blueprint, category: Access) -> None:
    """Every endpoint of ``blueprint`` (that does not declare its own) is in ``category``."""
    setattr(blueprint, _ATTRIBUTE, category)


def access(category: Access) -> Callable[[F], F]:
    """Decorator: this one view is in ``category``. Put it below the route decorator."""

    def mark(view: F) -> F:
        setattr(view, _ATTRIBUTE, category)
        return view

    return mark


def access_of(app: Flask, endpoint: str) -> Access:
    """The category of ``endpoint``: the view's, else its blueprint's, else OPERATIONS.

    Static files (the ``static`` endpoints of the app and of blueprints) are PUBLIC.
    """
    if endpoint == "static" or endpoint.endswith(".static"):
        return Access.PUBLIC
    declared = getattr(app.view_functions.get(endpoint), _ATTRIBUTE, None)
    if declared is None and "." in endpoint:
        declared = getattr(app.blueprints.get(endpoint.rsplit(".", 1)[0]), _ATTRIBUTE, None)
    return Access(declared) if declared is not None else Access.OPERATIONS


def install(app: Flask) -> None:
    """Check every routed request against its endpoint's category (404/405 pass through)."""

    @app.before_request
    def _check_access() -> None:
        if request.endpoint is None:
            return
        settings = container_of().settings
        refusal = _refusal(settings, access_of(current_app, request.endpoint))
        if refusal:
            raise Unauthorized(
                description=refusal, www_authenticate=WWWAuthenticate("bearer", {"realm": "api"})
            )


def admin_token_matches(settings: Settings, offered: str | None) -> bool:
    """True when ``offered`` is the configured ADMIN_TOKEN (False when none is configured)."""
    return _matches(offered, [settings.admin_token])


def caller() -> str:
    """Who sent the request at hand, for what is kept per caller (idempotency keys).

    The SHA-256 of the bearer token that authenticated it, never the token itself (this is
    stored); ``ANONYMOUS`` when its endpoint needed no token, so open endpoints share one.
    """
    settings = container_of().settings
    category = access_of(current_app, request.endpoint) if request.endpoint else Access.PUBLIC
    offered = _bearer_token()
    if not offered or not _accepted_tokens(settings, category):
        return ANONYMOUS
    return hashlib.sha256(offered.encode()).hexdigest()


CALLER_NAME_DIGITS = 12


def caller_name() -> str:
    """The caller as recorded beside what it changed (who skipped a dead letter).

    ``token:`` and the first ``CALLER_NAME_DIGITS`` hex digits of ``caller()`` (match them
    against the SHA-256 of each token you hand out), or ``ANONYMOUS``. Never the token.
    """
    digest = caller()
    return digest if digest == ANONYMOUS else f"token:{digest[:CALLER_NAME_DIGITS]}"


def _accepted_tokens(settings: Settings, category: Access) -> list[str]:
    """The tokens an endpoint of ``category`` takes; none when it is open."""
    if category is Access.OPERATIONS and settings.admin_token:
        return [settings.admin_token]
    if category is Access.API and settings.api_tokens:
        return [*settings.api_tokens, settings.admin_token]
    return []


def _refusal(settings: Settings, category: Access) -> str | None:
    tokens = _accepted_tokens(settings, category)
    if not tokens or _matches(_bearer_token(), tokens):
        return None
    if category is Access.OPERATIONS:
        return "send Authorization: Bearer <ADMIN_TOKEN>"
    return "send Authorization: Bearer <a token from API_TOKENS>"


def _bearer_token() -> str | None:
    scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
    return offered.strip() if scheme == "Bearer" else None


def _matches(offered: str | None, tokens: Iterable[str]) -> bool:
    """Compares with every configured token, so the time taken does not tell which matched."""
    if not offered:
        return False
    found = False
    for token in tokens:
        if token:
            found |= hmac.compare_digest(offered.encode(), token.encode())
    return found


def open_endpoints_report(app: Flask) -> list[str]:
    """One line per category that answers without a token under these settings."""
    settings = container_of(app).settings
    open_categories: dict[str, tuple[Access, ...]] = {}
    if not settings.admin_token:
        headline = "ADMIN_TOKEN is unset: operational endpoints are open"
        open_categories[headline] = (Access.OPERATIONS, Access.SIGN_IN)
    if not settings.api_tokens:
        headline = "API_TOKENS is unset: command and query endpoints are open"
        open_categories[headline] = (Access.API,)
    lines = []
    for headline, categories in open_categories.items():
        rules = sorted(
            {r.rule for r in app.url_map.iter_rules() if access_of(app, r.endpoint) in categories}
        )
        if rules:
            lines.append(f"{headline}: {', '.join(rules)}")
    return lines


admin_required = access(Access.OPERATIONS)
"""Marks one view OPERATIONS (the default anyway); kept for views written before categories."""
