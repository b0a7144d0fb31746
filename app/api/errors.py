"""Every refusal is JSON: ``{"error": code, "message": text, "fields": {...}}``."""

import logging
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, jsonify
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app.domain.errors import Conflict, DomainError, InvalidCommand, NotFound

log = logging.getLogger(__name__)


def error_response(
    status: int, code: str, message: str, fields: Mapping[str, object] | None = None
) -> tuple[Response, int]:
    body: dict[str, Any] = {"error": code, "message": message}
    if fields:
        body["fields"] = fields
    return jsonify(body), status


def install(app: Flask) -> None:
    @app.errorhandler(ValidationError)
    def _invalid(exc: ValidationError) -> tuple[Response, int]:
        fields = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return error_response(422, "validation_failed", "the request has invalid fields", fields)

    @app.errorhandler(DomainError)
    def _refused(exc: DomainError) -> tuple[Response, int]:
        if isinstance(exc, InvalidCommand):
            fields = {exc.field: [str(exc)]} if exc.field else None
            return error_response(422, "invalid_command", str(exc), fields)
        if isinstance(exc, NotFound):
            return error_response(404, "not_found", str(exc))
        if isinstance(exc, Conflict):
            return error_response(409, "conflict", str(exc))
        return error_response(400, "refused", str(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        response, status = error_response(status, code, exc.description or exc.name)
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response, status

    @app.errorhandler(sa.exc.DBAPIError)
    def _database(exc: sa.exc.DBAPIError) -> tuple[Response, int]:
        if not exc.connection_invalidated:
            return _unexpected(exc)
        # Connections are not pinged before use: the first request on one the server
        # dropped fails here, and the pool has already replaced the stale connections.
        log.warning("database connection lost: %s", exc.orig)
        response, status = error_response(
            503, "database_unavailable", "the database connection was lost; retry the request"
        )
        response.headers["Retry-After"] = "1"
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "an unexpected error occurred")
