"""Reading requests for flask-smorest's ``@arguments``, with the refusals the API promises.

* A body that is not declared JSON: 415. One that does not parse (or is ``null``): 400.
* Fields the schema refuses: marshmallow's ``ValidationError`` with the schema's messages
  as they are (webargs would nest them under the location), which ``errors.py`` turns
  into 422 ``{"error": "validation_failed", "fields": {...}}``.
* Location ``optional_json``: an empty body means ``{}`` (``POST /ship`` with no body).
* Unknown query parameters are refused like unknown body fields (the schemas' RAISE),
  where webargs would drop them.
"""

from typing import Any

import flask
from flask import abort
from marshmallow import Schema, ValidationError
from webargs.flaskparser import FlaskParser

OPTIONAL_JSON = "optional_json"


class RequestParser(FlaskParser):
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": None,
        "querystring": None,
    }
    __location_map__ = {**FlaskParser.__location_map__, OPTIONAL_JSON: "load_optional_json"}

    def load_json(self, req: flask.Request, schema: Schema) -> Any:
        if not req.is_json:
            abort(415, description="send a JSON body with Content-Type: application/json")
        try:
            data = req.get_json(silent=True)
        except RecursionError:
            data = None
        if data is None:
            abort(400, description="the request body is not valid JSON")
        return data

    def load_optional_json(self, req: flask.Request, schema: Schema) -> Any:
        return {} if not req.get_data() else self.load_json(req, schema)

    def handle_error(
        self,
        error: ValidationError,
        req: flask.Request,
        schema: Schema,
        *,
        error_status_code: int | None,
        error_headers: Any,
    ) -> Any:
        messages = error.messages
        if isinstance(messages, dict) and len(messages) == 1:
            (messages,) = messages.values()
        raise ValidationError(messages) from error
