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

from flask import render_template, request, session
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
    """A page without a session answers 401 with the sign-in form, which comes back to it
    (POSTs are refused earlier). 401 like every operational endpoint without the token,
    so a probe or script never mistakes the form for the page."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if signed_in():
            return view(*args, **kwargs)
        return render_template("ops/sign_in.html", next=request.full_path.rstrip("?")), 401

    return guarded  # type: ignore[return-value]
