"""Read-your-writes: a query sent with ``X-Min-Position: <n>`` answers once every
projection serving it has applied every event up to ``n`` (what a command's
``X-Event-Position`` said), or 503 ``projection_lagging`` with ``Retry-After`` after
READ_YOUR_WRITES_TIMEOUT_MS.

A position past the newest event is answered 422 at once: no command answered with it, so
it cannot be lagging, and waiting for it would hold a web worker for the whole timeout. 422
like a malformed position, not 409: nothing about the store's state makes the request
conflict, the header names something that does not exist, and retrying it unchanged is
pointless (a 409 or 503 invites a retry).
"""

import re
from collections.abc import Mapping

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from app.api.errors import error_response
from app.application.errors import PositionNotWritten
from app.container import container_of

HEADER = "X-Min-Position"
RETRY_AFTER_SECONDS = 1
_POSITION = re.compile(r"^[0-9]{1,19}$")
MAX_POSITION = 2**63 - 1


def install(blueprint: Blueprint, served_by: Mapping[str, tuple[str, ...]]) -> None:
    """``served_by``: view function name -> the projection handlers its answer reads."""

    @blueprint.before_request
    def _wait_for_projections() -> ResponseReturnValue | None:
        raw = request.headers.get(HEADER)
        if raw is None or request.endpoint is None:
            return None
        if not _POSITION.match(raw) or int(raw) > MAX_POSITION:
            message = "must be a global event position (a non-negative integer)"
            return error_response(
                422, "validation_failed", f"{HEADER} {message}", {HEADER: [message]}
            )
        handlers = served_by[request.endpoint.rpartition(".")[2]]
        c = container_of()
        timeout = c.settings.read_your_writes_timeout_ms / 1000
        try:
            if c.checkpoints.wait(int(raw), handlers, timeout):
                return None
        except PositionNotWritten as exc:
            message = (
                f"no event has position {exc.position} (the newest is {exc.newest}): "
                "send the X-Event-Position a command answered with"
            )
            return error_response(
                422, "validation_failed", f"{HEADER}: {message}", {HEADER: [message]}
            )
        response, status = error_response(
            503,
            "projection_lagging",
            f"the projections have not applied position {raw} yet; retry shortly",
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, status
