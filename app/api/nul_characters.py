"""No request may carry a NUL character (U+0000): PostgreSQL text cannot hold one, and a
query carrying it raises in psycopg (a 500), so it is refused before any view runs.

One rule for every route, present and future: a NUL in the path is a 404 (no resource is
named by it); one in a query parameter, a form field or any key or string of a JSON body
is a marshmallow ``ValidationError`` naming where it is, which ``errors.py`` answers 422
``validation_failed`` and the ops page 400. Headers are not checked: the ones the app
reads are validated by their own patterns.
"""

from collections.abc import Iterable
from typing import Any

from flask import Flask, abort, request
from marshmallow import ValidationError

NUL = "\x00"
MESSAGE = "must not contain a NUL character"
FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
"""The bodies Werkzeug parses into ``request.form`` (a JSON command skips the parse)."""

Path = tuple[str, ...]


def install(app: Flask) -> None:
    app.before_request(refuse_nul_characters)


def refuse_nul_characters() -> None:
    if NUL in request.path:
        abort(404, description="no resource has a NUL character in its path")
    # Cached first: parsing a form body consumes the stream, and a view reading the raw
    # body afterwards (a command refusing a form as 415) would find it empty.
    request.get_data()
    found = [
        *_in_pairs(request.args.items(multi=True)),
        *(_in_pairs(request.form.items(multi=True)) if request.mimetype in FORMS else []),
        *_in_json(_json_body()),
    ]
    if found:
        raise ValidationError(_errors(found))


def _json_body() -> Any:
    if not request.is_json:
        return None
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def _in_pairs(pairs: Iterable[tuple[str, str]]) -> list[Path]:
    return [(name,) for name, value in pairs if NUL in name or NUL in value]


def _in_json(body: Any) -> list[Path]:
    """Where a NUL is in ``body``, as key paths; walked without recursion (any depth)."""
    found: list[Path] = []
    pending: list[tuple[Path, Any]] = [((), body)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and NUL in value:
            found.append(path or ("_schema",))
        elif isinstance(value, dict):
            for key, item in value.items():
                if NUL in key:
                    found.append((*path, key))
                else:
                    pending.append(((*path, key), item))
        elif isinstance(value, list):
            pending.extend(((*path, str(index)), item) for index, item in enumerate(value))
    return found


def _errors(found: list[Path]) -> dict[str, Any]:
    """Nested like marshmallow's own field errors: ``{"items": {"0": {"sku": [...]}}}``."""
    errors: dict[str, Any] = {}
    for path in found:
        node = errors
        for name in path[:-1]:
            node = node.setdefault(name, {})
            if not isinstance(node, dict):
                break
        else:
            node[path[-1]] = [MESSAGE]
    return errors
