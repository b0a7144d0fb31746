"""The event store over HTTP (operators): audit trail by filter, one event, one trace."""

from typing import Any

from flask import Response, abort, jsonify
from marshmallow import Schema, fields, validate

from app.api.auth import Access
from app.api.context import rule_ids
from app.api.openapi import ApiBlueprint
from app.api.responses import ErrorSchema
from app.application.operations import MAX_TRACED_EVENTS, EventFilter
from app.container import container_of

blueprint = ApiBlueprint(
    "events",
    __name__,
    url_prefix="/api",
    access=Access.OPERATIONS,
    description="The event store: audit trail, one event, one request's causal chain.",
)

MAX_POSITION = 2**63 - 1
CORRELATION_ID_MAX = 64


def _filter(max_length: int) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length))


class EventQuerySchema(Schema):
    """``GET /api/events`` filters; unknown names are refused (422)."""

    aggregate_type = _filter(50)
    aggregate_id = _filter(36)
    correlation_id = _filter(CORRELATION_ID_MAX)
    type = _filter(100)
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_POSITION))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class TraceQuerySchema(Schema):
    """``GET /api/traces/<id>`` paging; unknown names are refused (422)."""

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_POSITION))
    limit = fields.Integer(
        load_default=MAX_TRACED_EVENTS, validate=validate.Range(min=1, max=MAX_TRACED_EVENTS)
    )


class DeliverySchema(Schema):
    handler = fields.String()
    status = fields.String()
    attempts = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)


class EventSchema(Schema):
    position = fields.Integer()
    event_id = fields.String()
    type = fields.String()
    version = fields.Integer()
    aggregate_type = fields.String()
    aggregate_id = fields.String()
    aggregate_version = fields.Integer()
    occurred_at = fields.String()
    correlation_id = fields.String()
    causation_id = fields.String()
    payload = fields.Dict()


class EventPageSchema(Schema):
    items = fields.List(fields.Nested(EventSchema))
    next_after = fields.Integer(allow_none=True)


class EventWithDeliveriesSchema(EventSchema):
    deliveries = fields.List(fields.Nested(DeliverySchema))


class TraceSchema(Schema):
    correlation_id = fields.String()
    events = fields.List(fields.Nested(EventWithDeliveriesSchema))
    next_after = fields.Integer(allow_none=True)


@blueprint.route("/events")
@blueprint.arguments(EventQuerySchema, location="query")
@blueprint.response(200, EventPageSchema)
def list_events(args: dict[str, Any]) -> Response:
    """Events matching the filters, in position order (page with ``after``)"""
    where = EventFilter(
        aggregate_type=args.get("aggregate_type"),
        aggregate_id=args.get("aggregate_id"),
        correlation_id=args.get("correlation_id"),
        event_type=args.get("type"),
        after=args["after"],
    )
    items, next_after = container_of().event_log.search(where, limit=args["limit"])
    return jsonify(EventPageSchema().dump({"items": items, "next_after": next_after}))


@blueprint.route("/events/<event_id>")
@rule_ids("/events/<event_id>")
@blueprint.response(200, EventWithDeliveriesSchema)
@blueprint.alt_response(404, schema=ErrorSchema, description="no such event")
def get_event(event_id: str) -> Response:
    """One event with its deliveries"""
    event = container_of().event_log.get(event_id)
    if event is None:
        abort(404, description=f"event {event_id} does not exist")
    return jsonify(EventWithDeliveriesSchema().dump(event))


@blueprint.route("/traces/<correlation_id>")
@blueprint.arguments(TraceQuerySchema, location="query")
@blueprint.response(200, TraceSchema)
@blueprint.alt_response(404, schema=ErrorSchema, description="no events with this id")
def get_trace(args: dict[str, Any], correlation_id: str) -> Response:
    """One request's whole causal chain, each event with its deliveries (page with ``after``)"""
    found = None
    if len(correlation_id) <= CORRELATION_ID_MAX:
        found = container_of().event_log.trace(
            correlation_id, after=args["after"], limit=args["limit"]
        )
    if found is None:
        abort(404, description=f"no events with correlation id {correlation_id}")
    page, next_after = found
    body = {"correlation_id": correlation_id, "events": page, "next_after": next_after}
    return jsonify(TraceSchema().dump(body))
