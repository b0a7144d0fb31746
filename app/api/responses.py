"""Response schemas: views return plain data or read models; flask-smorest dumps and documents
them with these."""

from decimal import Decimal
from typing import Any

from marshmallow import Schema, fields, validate

from app.application.backfills import BackfillState
from app.application.ports import DeliveryStatus
from app.domain.money import format_money
from app.infrastructure.persistence.handler_overview import BACKLOG_STATUSES

ORDER_STATUSES = ["created", "paid", "shipped", "cancelled"]


class Money(fields.String):
    """A ``Decimal`` amount dumped as its decimal string ("12.50"): never a float."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if isinstance(value, Decimal):
            value = format_money(value)
        return super()._serialize(value, attr, obj, **kwargs)


class ErrorSchema(Schema):
    """Every refusal (``errors.py``): a code, a sentence, and field errors when there are."""

    error = fields.String(
        required=True,
        metadata={"description": "what went wrong, e.g. validation_failed, not_found, conflict"},
    )
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        metadata={"description": "field name → its problems (422 only)"},
    )


class UserCreatedSchema(Schema):
    user_id = fields.UUID(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)


class OrderCreatedSchema(Schema):
    order_id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES))
    total = fields.String(required=True, metadata={"example": "30.97"})


class OrderStatusSchema(Schema):
    order_id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES))


class LineItemViewSchema(Schema):
    sku = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price = Money(required=True, metadata={"example": "12.50"})


class OrderSummarySchema(Schema):
    order_id = fields.UUID(required=True)
    user_id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(ORDER_STATUSES))
    total = Money(required=True)
    currency = fields.String(required=True, metadata={"example": "EUR"})
    items = fields.List(fields.Nested(LineItemViewSchema), required=True)
    version = fields.Integer(required=True)


class UserProfileSchema(Schema):
    user_id = fields.UUID(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    order_count = fields.Integer(required=True)
    total_spent = Money(required=True)
    loyalty_points = fields.Integer(required=True)


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


class ReadinessSchema(Schema):
    """Each check is ``"ok"`` or a sentence saying what is wrong."""

    checks = fields.Dict(
        keys=fields.String(validate=validate.OneOf(["database", "migrations", "broker"])),
        values=fields.String(),
        required=True,
    )
    relay_heartbeat_age_seconds = fields.Float(
        allow_none=True,
        metadata={
            "description": "Seconds since a following relay last went round its loop; null if "
            "none ever ran. Informational: a web process serves without a relay."
        },
    )


class ParkedSchema(Schema):
    keys = fields.Integer(required=True)
    deliveries = fields.Integer(required=True)
    oldest_age_seconds = fields.Float(required=True)


OutboxStatsSchema = Schema.from_dict(
    {
        **{status.value: fields.Integer(required=True) for status in DeliveryStatus},
        "oldest_pending_age_seconds": fields.Float(required=True),
        "oldest_dispatched_age_seconds": fields.Float(required=True),
        "oldest_parked_age_seconds": fields.Float(
            required=True,
            metadata={"description": "age of the oldest delivery parked behind a dead one"},
        ),
        "parked_keys": fields.Integer(
            required=True,
            metadata={"description": "ordered keys held behind a dead delivery (all handlers)"},
        ),
        "by_handler": fields.Dict(
            keys=fields.String(),
            values=fields.Dict(keys=fields.String(), values=fields.Integer()),
            required=True,
            metadata={"description": "handler → status → deliveries"},
        ),
        "parked_by_handler": fields.Dict(
            keys=fields.String(),
            values=fields.Nested(ParkedSchema),
            required=True,
            metadata={"description": "handler → its parked keys (only handlers with some)"},
        ),
    },
    name="OutboxStats",
)
"""One count per delivery status (it follows ``DeliveryStatus``) and the oldest waiting ages."""


class DeadLetterSchema(Schema):
    id = fields.Integer(required=True)
    delivery_id = fields.Integer(required=True, allow_none=True)
    event_id = fields.String(required=True, allow_none=True)
    event_type = fields.String(required=True, allow_none=True)
    handler = fields.String(required=True, allow_none=True)
    attempts = fields.Integer(required=True)
    exception_type = fields.String(required=True)
    message = fields.String(required=True)
    traceback = fields.String(metadata={"description": "only on GET /api/dead-letters/<id>"})
    body = fields.Raw(required=True, allow_none=True, metadata={"description": "the message"})
    status = fields.String(required=True, validate=validate.OneOf(["dead", "redriven", "skipped"]))
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    redriven_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    skipped_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    skipped_by = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "who skipped it: the operator's caller name"},
    )


class DeadLetterPageSchema(Schema):
    count = fields.Integer(required=True)
    items = fields.List(fields.Nested(DeadLetterSchema), required=True)


class RetriedSchema(Schema):
    retried = fields.List(fields.Integer(), required=True)


class RetryMatchingSchema(Schema):
    matched = fields.List(fields.Integer(), required=True)
    retried = fields.List(fields.Integer(), required=True)
    dry_run = fields.Boolean(required=True)


class BackfillRunSchema(Schema):
    """One backfill run: what was asked, and how far its task has come."""

    id = fields.Integer(required=True)
    handler = fields.String(required=True, metadata={"example": "forward_to_webhooks"})
    state = fields.String(
        required=True,
        validate=validate.OneOf([state.value for state in BackfillState]),
        metadata={"description": "queued, running (its task has claimed it), done or failed"},
    )
    error = fields.String(
        required=True, allow_none=True, metadata={"description": "why it failed; null if not"}
    )
    requested_by = fields.String(
        required=True,
        metadata={"description": "api: or ops: and the caller (token: and 12 hex digits)"},
    )
    from_position = fields.Integer(required=True, allow_none=True)
    since = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    batch_size = fields.Integer(required=True)
    rate = fields.Float(
        required=True, allow_none=True, metadata={"description": "events per second at most"}
    )
    start_position = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "the walk began after this position; null until it started"},
    )
    position = fields.Integer(
        required=True, allow_none=True, metadata={"description": "the position reached"}
    )
    head_position = fields.Integer(
        required=True,
        allow_none=True,
        metadata={
            "description": "where the walk ends: the newest position when it started, then "
            "the barrier's (after which nothing older can appear)"
        },
    )
    events_total = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "events it planned to read (more may arrive meanwhile)"},
    )
    events_scanned = fields.Integer(
        required=True, metadata={"description": "events of the handler's types read so far"}
    )
    deliveries_added = fields.Integer(
        required=True,
        metadata={"description": "deliveries added: the events that had none for the handler"},
    )
    gaps_filled = fields.Integer(
        required=True,
        metadata={"description": "events committed late, found after the barrier"},
    )
    queued_at = fields.String(required=True, metadata={"format": "date-time"})
    started_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    updated_at = fields.String(required=True, metadata={"format": "date-time"})
    finished_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class HandlerSchema(Schema):
    """One event handler: what ``flask handlers list --json`` prints for it."""

    name = fields.String(required=True, metadata={"example": "forward_to_webhooks"})
    task = fields.String(
        required=True, metadata={"description": "its Celery task name, handlers.<name>"}
    )
    queue = fields.String(required=True)
    event_types = fields.List(
        fields.String(), required=True, metadata={"description": "the event types it takes"}
    )
    enabled = fields.Boolean(
        required=True,
        metadata={
            "description": "whether new events get a delivery for it: it has every setting "
            "it requires. A disabled handler still runs the deliveries it already has."
        },
    )
    disabled_reason = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "why it is disabled, e.g. WEBHOOK_URLS is not set; null if not"},
    )
    requires = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "settings that must be set for it to be enabled"},
    )
    ordered = fields.Boolean(
        required=True,
        metadata={"description": "one delivery per key at a time, in the event store's order"},
    )
    effect = fields.String(
        required=True, validate=validate.OneOf(["exactly-once", "at-least-once"])
    )
    backlog = fields.Nested(
        Schema.from_dict(
            {status.value: fields.Integer(required=True) for status in BACKLOG_STATUSES},
            name="HandlerBacklog",
        ),
        required=True,
        metadata={"description": "its deliveries still to run, held, or dead, by status"},
    )
    oldest_waiting_age_seconds = fields.Float(
        required=True,
        metadata={"description": "age of its oldest delivery still to run or held; 0 if none"},
    )
    done = fields.Integer(required=True, metadata={"description": "deliveries done (retained)"})
    last_backfill = fields.Nested(
        BackfillRunSchema,
        required=True,
        allow_none=True,
        metadata={"description": "its newest backfill run started over HTTP; null if none"},
    )


class HandlerListSchema(Schema):
    handlers = fields.List(fields.Nested(HandlerSchema), required=True)
