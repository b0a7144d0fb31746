"""Reading a JSON request body: 415 if it is not JSON, 400 if it does not parse."""

from typing import Any

from flask import abort, request
from marshmallow import Schema


def load_json(schema: Schema, *, body_optional: bool = False) -> dict[str, Any]:
    """Parse and validate the body; invalid fields raise marshmallow's ValidationError (422).

    ``body_optional``: an empty body means ``{}`` (e.g. ``POST /ship`` with no body).
    """
    if body_optional and not request.get_data():
        return schema.load({})
    if not request.is_json:
        abort(415, description="send a JSON body with Content-Type: application/json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        data = None
    if data is None:
        abort(400, description="the request body is not valid JSON")
    return schema.load(data)
