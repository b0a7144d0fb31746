"""Every response carries ``X-Correlation-ID``: the caller's if valid, else a new one.

The id is also bound to the request's log records (``app.logs``).
"""

import re
from uuid import uuid4

from flask import Flask, Response, g, request

from app import logs

HEADER = "X-Correlation-ID"
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def install(app: Flask) -> None:
    @app.before_request
    def _take_correlation_id() -> None:
        offered = request.headers.get(HEADER, "")
        g.correlation_id = offered if _VALID.match(offered) else str(uuid4())
        logs.bind(correlation_id=g.correlation_id, causation_id=g.correlation_id)

    @app.teardown_request
    def _unbind_log_context(_exc: BaseException | None) -> None:
        logs.clear()

    @app.after_request
    def _echo_correlation_id(response: Response) -> Response:
        response.headers[HEADER] = g.get("correlation_id") or str(uuid4())
        return response
