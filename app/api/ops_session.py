"""Sign-in for the ops page: the admin token, once, buys a session cookie.

The cookie (Flask's signed session, ``HttpOnly``, ``SameSite=Lax``) holds an HMAC of the
token, never the token, so changing ``ADMIN_TOKEN`` signs everybody out. Every form POST
of the page carries a CSRF token (Flask-WTF), the sign-in form included. Without
``ADMIN_TOKEN`` the page is open, like the other operational endpoints in development.
"""

import hashlib
import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from app.api.context import container

F = TypeVar("F", bound=Callable[..., Any])

SESSION_KEY = "ops_admin"
csrf = CSRFProtect()


def admin_token() -> str:
    return container().settings.admin_token


def _fingerprint(token: str) -> str:
    return hmac.new(token.encode(), b"outboxflow ops session", hashlib.sha256).hexdigest()


def token_matches(offered: str) -> bool:
    token = admin_token()
    return bool(token) and hmac.compare_digest(offered.encode(), token.encode())


def sign_in() -> None:
    """Start a fresh session (never reuse one that existed before the sign-in)."""
    session.clear()
    session[SESSION_KEY] = _fingerprint(admin_token())


def sign_out() -> None:
    session.clear()


def signed_in() -> bool:
    token = admin_token()
    if not token:
        return True
    return hmac.compare_digest(str(session.get(SESSION_KEY, "")), _fingerprint(token))


def ops_session_required(view: F) -> F:
    """A page without a session redirects to the sign-in form (POSTs are refused earlier)."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if signed_in():
            return view(*args, **kwargs)
        return redirect(url_for("ops.sign_in_form", next=request.full_path.rstrip("?")))

    return guarded  # type: ignore[return-value]
