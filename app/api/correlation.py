"""Every request is the root of a message chain: its ``MessageContext`` is made here, once.

The correlation id is the caller's ``X-Correlation-ID`` if valid, else a new one; every
response echoes it. The same context is bound to the request's log records (``app.logs``)
and stamped, through ``request_context()``, on the events its command records.
"""

import re
from uuid import uuid4

from flask import Flask, Response, g, request

from app import logs
from app.application.messages import MessageContext

HEADER = "X-Correlation-ID"
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def request_context() -> MessageContext:
    """The context of the request at hand; a request's commands are the root of their chain."""
    context: MessageContext = g.message_context
    return context


def install(app: Flask) -> None:
    @app.before_request
    def _take_correlation_id() -> None:
        offered = request.headers.get(HEADER, "")
        g.message_context = MessageContext.root(offered if _VALID.match(offered) else str(uuid4()))
        logs.bind(g.message_context)

    @app.teardown_request
    def _unbind_log_context(_exc: BaseException | None) -> None:
        logs.clear()

    @app.after_request
    def _echo_correlation_id(response: Response) -> Response:
        context: MessageContext | None = g.get("message_context")
        response.headers[HEADER] = context.correlation_id if context else str(uuid4())
        return response
