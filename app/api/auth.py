"""Operator endpoints need ``Authorization: Bearer $ADMIN_TOKEN`` when ADMIN_TOKEN is set."""

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request

from app.api.context import container

F = TypeVar("F", bound=Callable[..., Any])


def admin_required(view: F) -> F:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        token = container().settings.admin_token
        if token:
            scheme, _, offered = request.headers.get("Authorization", "").partition(" ")
            if scheme != "Bearer" or not hmac.compare_digest(
                offered.strip().encode(), token.encode()
            ):
                abort(401, description="send Authorization: Bearer <ADMIN_TOKEN>")
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]
