"""The resource ids a request names."""

import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from uuid import UUID

from flask import abort

F = TypeVar("F", bound=Callable[..., Any])


def resource_id(value: str, what: str) -> str:
    """Ids are UUIDs; anything else cannot name an existing resource, so it is a 404."""
    try:
        return str(UUID(value))
    except ValueError:
        abort(404, description=f"{what} {value} does not exist")


def resource_ids(**kinds: str) -> Callable[[F], F]:
    """Normalise the named path ids (``order_id="order"``) before anything reads the body.

    A malformed id is a 404 whatever the body says. Place it right below the route.
    """

    def decorate(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            for name, what in kinds.items():
                kwargs[name] = resource_id(kwargs[name], what)
            return view(*args, **kwargs)

        return cast(F, checked)

    return decorate


def rule_ids(rule: str) -> Callable[[F], F]:
    """``resource_ids`` for each ``<kind_id>`` in a route ``rule`` (``<order_id>``: an order)."""
    kinds = {f"{kind}_id": kind for kind in re.findall(r"<(\w+)_id>", rule)}
    return resource_ids(**kinds) if kinds else _unchanged


def _unchanged(view: F) -> F:
    return view
