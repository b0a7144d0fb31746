"""Dead letters over HTTP: list, inspect, re-drive one or many."""

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate

from app.api.auth import admin_required
from app.api.context import container
from app.api.filters import parse_since
from app.api.requests import load_json
from app.infrastructure.persistence.dead_letters import MAX_ID, DeadLetterFilter

blueprint = Blueprint("dead_letters", __name__, url_prefix="/api/dead-letters")


class Since(fields.Field):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise ValidationError("must be an ISO-8601 time or a duration like 2h")
        try:
            return parse_since(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class FilterSchema(Schema):
    handler = fields.String(validate=validate.Length(max=100))
    event_type = fields.String(validate=validate.Length(max=100))
    error = fields.String(validate=validate.Length(max=200))
    since = Since()


class ListSchema(FilterSchema):
    status = fields.String(load_default="dead", validate=validate.OneOf(["dead", "all"]))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class RetrySchema(FilterSchema):
    dry_run = fields.Boolean(load_default=False)


def _filter(data: dict[str, Any], include_redriven: bool = False) -> DeadLetterFilter:
    return DeadLetterFilter(
        handler=data.get("handler"),
        event_type=data.get("event_type"),
        error=data.get("error"),
        since=data.get("since"),
        include_redriven=include_redriven,
    )


@blueprint.get("")
@admin_required
def list_dead_letters() -> Response:
    args = ListSchema().load(request.args.to_dict())
    where = _filter(args, include_redriven=args["status"] == "all")
    store = container().dead_letters
    items = store.search(where, limit=args["limit"], offset=args["offset"])
    for item in items:
        item.pop("traceback", None)
    return jsonify({"count": store.count(where), "items": items})


def _existing(dead_letter_id: int) -> dict[str, Any]:
    item = None if dead_letter_id > MAX_ID else container().dead_letters.get(dead_letter_id)
    if item is None:
        abort(404, description=f"dead letter {dead_letter_id} does not exist")
    return item


@blueprint.get("/<int:dead_letter_id>")
@admin_required
def get_dead_letter(dead_letter_id: int) -> Response:
    return jsonify(_existing(dead_letter_id))


@blueprint.post("/<int:dead_letter_id>/retry")
@admin_required
def retry_one(dead_letter_id: int) -> Response:
    store = container().dead_letters
    item = _existing(dead_letter_id)
    if item["status"] != "dead" or item["delivery_id"] is None:
        abort(
            409,
            description=f"dead letter {dead_letter_id} cannot be re-driven "
            f"(status {item['status']}, delivery {item['delivery_id']})",
        )
    return jsonify({"retried": store.redrive([dead_letter_id])})


@blueprint.post("/retry")
@admin_required
def retry_matching() -> Response:
    data = load_json(RetrySchema(), body_optional=True)
    store = container().dead_letters
    ids = store.matching(_filter(data))
    retried = [] if data["dry_run"] else store.redrive(ids)
    return jsonify({"matched": ids, "retried": retried, "dry_run": data["dry_run"]})
