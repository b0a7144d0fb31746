"""Sign-in for the ops page: the admin token, once, buys a session that signing out ends.

The cookie (Flask's signed session, ``HttpOnly``, ``SameSite=Lax``, expiring with the
session) holds the session's id and issue time, and an HMAC of the token, never the token,
so changing ``ADMIN_TOKEN`` signs everybody out. The session is live while its row is in
the database (``OpsSessions``): signing out deletes it, so a copy of the cookie saved before
opens nothing on any web process; and it ends ``OPS_SESSION_HOURS`` after the sign-in,
however much it is used. Every form POST of the page carries a CSRF token (Flask-WTF), the
sign-in form included. Without ``ADMIN_TOKEN`` the page is open, like the other operational
endpoints in development.
"""

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import g, render_template, request, session
from flask_wtf.csrf import CSRFProtect

from app.container import container_of

F = TypeVar("F", bound=Callable[..., Any])

SESSION_KEY = "ops_admin"
SESSION_ID = "ops_session"
ISSUED_AT = "ops_issued_at"
_CHECKED = "ops_session_live"
"""Where one request keeps its answer (the page asks in the view and in its template)."""
csrf = CSRFProtect()


def admin_token() -> str:
    return container_of().settings.admin_token


def session_lifetime() -> timedelta:
    return timedelta(hours=container_of().settings.ops_session_hours)


def _fingerprint(token: str) -> str:
    return hmac.new(token.encode(), b"outboxflow ops session", hashlib.sha256).hexdigest()


def token_matches(offered: str) -> bool:
    token = admin_token()
    return bool(token) and hmac.compare_digest(offered.encode(), token.encode())


def sign_in() -> None:
    """Start a fresh session (never reuse one that existed before the sign-in)."""
    session.clear()
    started = container_of().ops_sessions.start()
    session.permanent = True
    session[SESSION_KEY] = _fingerprint(admin_token())
    session[SESSION_ID] = started.session_id
    session[ISSUED_AT] = started.issued_at.timestamp()
    g.pop(_CHECKED, None)


def sign_out() -> None:
    """End the session for every copy of its cookie, not only this browser's."""
    session_id = session.get(SESSION_ID)
    if isinstance(session_id, str):
        container_of().ops_sessions.end(session_id)
    session.clear()
    g.pop(_CHECKED, None)


def signed_in() -> bool:
    token = admin_token()
    if not token:
        return True
    if _CHECKED not in g:
        setattr(g, _CHECKED, _live(token))
    return bool(getattr(g, _CHECKED))


def _live(token: str) -> bool:
    """The cookie names a session of this token, not past its lifetime, not signed out.

    The cookie's own issue time refuses an old copy without asking the database; its
    signature (SECRET_KEY) means the time and id are the ones this app wrote.
    """
    if not hmac.compare_digest(str(session.get(SESSION_KEY, "")), _fingerprint(token)):
        return False
    session_id, issued_at = session.get(SESSION_ID), session.get(ISSUED_AT)
    if not isinstance(session_id, str) or not isinstance(issued_at, int | float):
        return False
    if time.time() - issued_at >= session_lifetime().total_seconds():
        return False
    return container_of().ops_sessions.live(session_id)


OPERATOR_DIGITS = 12


def operator_name() -> str:
    """The signed-in operator, as recorded beside what the page changed (a skip).

    ``session:`` and the first ``OPERATOR_DIGITS`` hex digits of the SHA-256 of the
    session's id: the start of its row's ``id_digest`` in ``ops_sessions``, never the id
    itself (which, with ``SECRET_KEY``, would make a cookie). ``anonymous`` when the page is
    open (no ``ADMIN_TOKEN``).
    """
    session_id = session.get(SESSION_ID)
    if not admin_token() or not isinstance(session_id, str):
        return "anonymous"
    return f"session:{hashlib.sha256(session_id.encode()).hexdigest()[:OPERATOR_DIGITS]}"


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
