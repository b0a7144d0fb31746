"""Headers on every response, so that a browser cannot be turned against the people who use
the ops page and the API docs.

* ``Content-Security-Policy``: scripts, styles and fetches from this origin only, images
  also as ``data:`` URLs (Swagger UI's icons); no inline script or style unless the page
  marks it with this response's nonce (``csp_nonce()`` in a template); no plugins, no
  ``<base>``, forms post only here; and no page of this app inside anybody's frame
  (``frame-ancestors 'none'``), which is what stops a re-drive button being clickjacked.
  ``X-Frame-Options: DENY`` says the same to browsers older than CSP 2.
* ``X-Content-Type-Options: nosniff``: an answer carrying user input is never run as a
  script or rendered as HTML because it looks like one.
* ``Referrer-Policy: same-origin``: no URL of this app (ids, filters, correlation ids)
  goes to another site. Not ``no-referrer``: Flask-WTF refuses an HTTPS form POST whose
  Referer is missing, which would refuse every sign-in and re-drive.
* ``Cache-Control: no-store`` on everything but static files: the ops pages show names,
  emails and tracebacks, and API answers carry the same (users, events, dead letters);
  neither a browser's cache nor a proxy should keep a copy for the next person. Static
  files (Swagger UI's bundle) are the same for everyone and stay cacheable.

A view that sets one of these headers itself keeps its own value.
"""

import secrets

from flask import Flask, g, request
from werkzeug.wrappers import Response

_NONCE = "csp_nonce"
_POLICY = (
    "default-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def install(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(_secure)


def csp_nonce() -> str:
    """The nonce of this response: an inline ``<script>`` or ``<style>`` carrying it runs."""
    if _NONCE not in g:
        setattr(g, _NONCE, secrets.token_urlsafe(16))
    return str(getattr(g, _NONCE))


def content_security_policy(nonce: str | None) -> str:
    inline = f" 'nonce-{nonce}'" if nonce else ""
    return "; ".join((*_POLICY, f"script-src 'self'{inline}", f"style-src 'self'{inline}"))


def _secure(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(g.get(_NONCE)))
    for name, value in HEADERS.items():
        headers.setdefault(name, value)
    if not _static_file() and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    return response


def _static_file() -> bool:
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")
