"""Dead letters over HTTP: list, inspect, re-drive one or many, skip one."""

from typing import Any

from flask import abort
from marshmallow import Schema, ValidationError, fields, validate

from app.api import responses
from app.api.auth import Access, caller_name
from app.api.filters import parse_since
from app.api.openapi import ApiBlueprint
from app.api.parsing import OPTIONAL_JSON
from app.application import skipping
from app.application.dead_letters import DEAD, MAX_ID, DeadLetterFilter, DeadLetterRecord
from app.container import container_of

blueprint = ApiBlueprint(
    "dead_letters",
    __name__,
    url_prefix="/api/dead-letters",
    access=Access.OPERATIONS,
    description="Deliveries given up on: inspect them, re-drive them once the cause is fixed, "
    "or skip them for good.",
)


class Since(fields.String):
    """An ISO-8601 time (UTC when it has no offset) or a look-back such as 30m, 2h, 7d."""

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
    error = fields.String(
        validate=validate.Length(max=200),
        metadata={"description": "text in the error message or exception type"},
    )
    since = Since(metadata={"description": "ISO-8601 time, or a look-back like 30m, 2h, 7d"})


class ListSchema(FilterSchema):
    status = fields.String(load_default="dead", validate=validate.OneOf(["dead", "all"]))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_ID))


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


@blueprint.route("")
@blueprint.arguments(ListSchema, location="query")
@blueprint.response(200, responses.DeadLetterPageSchema)
def list_dead_letters(args: dict[str, Any]) -> dict[str, Any]:
    """Dead letters matching the filters, oldest first (without tracebacks)"""
    where = _filter(args, include_redriven=args["status"] == "all")
    store = container_of().dead_letters
    items = store.search(where, limit=args["limit"], offset=args["offset"])
    for item in items:
        item.pop("traceback", None)
    return {"count": store.count(where), "items": items}


def _existing(dead_letter_id: int) -> DeadLetterRecord:
    item = None if dead_letter_id > MAX_ID else container_of().dead_letters.get(dead_letter_id)
    if item is None:
        abort(404, description=f"dead letter {dead_letter_id} does not exist")
    return item


@blueprint.route("/<int:dead_letter_id>")
@blueprint.response(200, responses.DeadLetterSchema)
@blueprint.alt_response(404, schema=responses.ErrorSchema, description="no such dead letter")
def get_dead_letter(dead_letter_id: int) -> DeadLetterRecord:
    """One dead letter, with its traceback and message body"""
    return _existing(dead_letter_id)


@blueprint.route("/<int:dead_letter_id>/retry", methods=["POST"])
@blueprint.response(200, responses.RetriedSchema)
@blueprint.alt_response(404, schema=responses.ErrorSchema, description="no such dead letter")
@blueprint.alt_response(409, schema=responses.ErrorSchema, description="not re-drivable")
def retry_one(dead_letter_id: int) -> dict[str, Any]:
    """Re-drive one dead letter: its delivery goes back to pending with fresh attempts"""
    store = container_of().dead_letters
    item = _existing(dead_letter_id)
    if item["status"] != DEAD or item["delivery_id"] is None:
        abort(
            409,
            description=f"dead letter {dead_letter_id} cannot be re-driven "
            f"(status {item['status']}, delivery {item['delivery_id']})",
        )
    return {"retried": store.redrive([dead_letter_id])}


@blueprint.route("/<int:dead_letter_id>/skip", methods=["POST"])
@blueprint.response(200, responses.DeadLetterSchema)
@blueprint.alt_response(404, schema=responses.ErrorSchema, description="no such dead letter")
@blueprint.alt_response(
    409,
    schema=responses.ErrorSchema,
    description="not skippable: already re-driven or skipped, or without a delivery",
    example={
        "error": "conflict",
        "message": "dead letter 42 was already skipped by api:token:5e884898da28 "
        "at 2026-01-02T03:04:05+00:00",
    },
)
def skip_one(dead_letter_id: int) -> DeadLetterRecord:
    """Skip one dead letter for good: its delivery never runs, and what it parked goes on

    The deliveries of an ordered handler parked behind it go on, in order. The answer is
    the dead letter (without its traceback), `skipped`, with when and who: `api:` and the
    caller (`token:` and the first 12 hex digits of the SHA-256 of the bearer token, or
    `anonymous`).
    """
    store = container_of().dead_letters
    outcome = skipping.skip(store, [dead_letter_id], by=f"api:{caller_name()}")
    for refused in outcome.refused:
        abort(404 if refused.missing else 409, description=refused.reason)
    item = _existing(dead_letter_id)
    item.pop("traceback", None)
    return item


@blueprint.route("/retry", methods=["POST"])
@blueprint.arguments(RetrySchema, location=OPTIONAL_JSON, required=False)
@blueprint.response(200, responses.RetryMatchingSchema)
@blueprint.alt_response(400, schema=responses.ErrorSchema, description="not valid JSON")
@blueprint.alt_response(415, schema=responses.ErrorSchema, description="not application/json")
def retry_matching(data: dict[str, Any]) -> dict[str, Any]:
    """Re-drive every dead letter matching the filters (or list them: dry_run)"""
    store = container_of().dead_letters
    ids = store.matching(_filter(data))
    retried = [] if data["dry_run"] else store.redrive(ids)
    return {"matched": ids, "retried": retried, "dry_run": data["dry_run"]}
