"""Operational endpoints: health and outbox figures."""

from flask import Blueprint, Response, jsonify

from app.api.context import container

blueprint = Blueprint("admin", __name__)


@blueprint.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@blueprint.get("/api/outbox/stats")
def outbox_stats() -> Response:
    return jsonify(container().outbox_stats())
