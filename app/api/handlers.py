"""The event handlers over HTTP: each one's subscription, enabled or why not, its backlog,
and its backfills."""

from typing import Any

from flask import abort, url_for
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from werkzeug.exceptions import ServiceUnavailable

from app.api import responses
from app.api.auth import Access, caller_name
from app.api.dead_letters import Since
from app.api.events import MAX_POSITION
from app.api.openapi import ApiBlueprint, links
from app.api.parsing import OPTIONAL_JSON
from app.application.backfills import (
    AlreadyRunning,
    BackfillRequest,
    BackfillRun,
    HandlerDisabled,
    TaskNotSent,
)
from app.application.event_handlers.subscriptions import Subscription
from app.container import container_of
from app.infrastructure.persistence.handler_overview import HandlerOverview

blueprint = ApiBlueprint(
    "handlers",
    __name__,
    url_prefix="/api/handlers",
    access=Access.OPERATIONS,
    description="The event handlers: what each takes, whether it is enabled, its backlog, "
    "and backfilling one with the events it missed.",
)

SHOWN_NAME_LENGTH = 100
"""An unknown name is quoted back in the 404 up to this many characters."""
MAX_RUN_ID = 2**63 - 1


class BackfillSchema(Schema):
    """The options of ``flask handlers backfill``; every one may be left out."""

    from_position = fields.Integer(
        validate=validate.Range(min=1, max=MAX_POSITION),
        metadata={"description": "start at this event position (default: the first)"},
    )
    since = Since(
        metadata={
            "description": "start at the first event at or after this ISO-8601 time, or a "
            "look-back like 30m, 2h, 7d; not with from_position"
        }
    )
    batch_size = fields.Integer(
        load_default=1000,
        validate=validate.Range(min=1, max=100_000),
        metadata={"description": "events per transaction"},
    )
    rate = fields.Float(
        validate=validate.Range(min=1, max=1_000_000),
        metadata={"description": "at most this many events per second (default: no cap)"},
    )

    @validates_schema
    def _one_start(self, data: dict[str, Any], **_: Any) -> None:
        if "from_position" in data and "since" in data:
            raise ValidationError("give from_position or since, not both", "since")


@blueprint.route("")
@blueprint.response(200, responses.HandlerListSchema)
def list_handlers() -> dict[str, list[HandlerOverview]]:
    """Every event handler, as `flask handlers list --json` prints them"""
    c = container_of()
    return {"handlers": c.outbox_reader.handlers(c.subscriptions)}


def _subscription(name: str) -> Subscription:
    c = container_of()
    subscription = c.subscriptions.get(name)
    if subscription is None:
        known = ", ".join(s.spec.name for s in c.subscriptions.all)
        shown = name[:SHOWN_NAME_LENGTH] + ("…" if len(name) > SHOWN_NAME_LENGTH else "")
        abort(404, description=f"no handler is named {shown!r}; the handlers are {known}")
    return subscription


@blueprint.route("/<name>")
@blueprint.response(200, responses.HandlerSchema)
@blueprint.alt_response(404, schema=responses.ErrorSchema, description="no such handler")
def get_handler(name: str) -> HandlerOverview:
    """One event handler by name, with its newest backfill's progress"""
    return container_of().outbox_reader.handler(_subscription(name))


STARTED_LEADS_TO = links(
    202,
    GetBackfill={
        "operationId": "get_backfill",
        "parameters": {"name": "$request.path.name", "run_id": "$response.body#/id"},
    },
    GetHandler={"operationId": "get_handler", "parameters": {"name": "$request.path.name"}},
)


@blueprint.route("/<name>/backfill", methods=["POST"])
@blueprint.arguments(BackfillSchema, location=OPTIONAL_JSON, required=False)
@blueprint.response(
    202,
    responses.BackfillRunSchema,
    description="the run is queued; its Location shows its progress",
    headers={
        "Location": {
            "description": "the run: GET it (or the handler) to watch it catch up",
            "schema": {"type": "string"},
        }
    },
)
@blueprint.alt_response(400, schema=responses.ErrorSchema, description="not valid JSON")
@blueprint.alt_response(404, schema=responses.ErrorSchema, description="no such handler")
@blueprint.alt_response(
    409,
    schema=responses.ErrorSchema,
    description="the handler is disabled (the message says why), or has a backfill queued "
    "or running",
    example={
        "error": "conflict",
        "message": "forward_to_webhooks is not enabled (WEBHOOK_URLS is not set): its "
        "deliveries would do nothing; configure it, restart, then backfill",
    },
)
@blueprint.alt_response(415, schema=responses.ErrorSchema, description="not application/json")
@blueprint.alt_response(
    503, schema=responses.ErrorSchema, description="the broker did not take the task; retry"
)
@blueprint.doc(**STARTED_LEADS_TO)
def start_backfill(data: dict[str, Any], name: str) -> tuple[BackfillRun, dict[str, str]]:
    """Backfill a handler: one delivery for every stored event it takes and has none for

    The same backfill as `flask handlers backfill`, run by a worker's `outbox.backfill`
    task: safe while commands keep arriving, and a second run adds nothing. Start it once
    every web and worker process has the configuration that enables the handler. Its
    progress is written after every batch: GET the Location, or the handler's
    `last_backfill`.
    """
    subscription = _subscription(name)
    request = BackfillRequest(requested_by=f"api:{caller_name()}", **data)
    try:
        run = container_of().backfills.start(subscription, request)
    except HandlerDisabled as exc:
        abort(409, description=str(exc))
    except AlreadyRunning as exc:
        abort(409, description=str(exc))
    except TaskNotSent as exc:
        raise ServiceUnavailable(description=f"{exc}; retry", retry_after=5) from exc
    return run, {"Location": url_for(".get_backfill", name=name, run_id=run["id"])}


@blueprint.route("/<name>/backfills/<int:run_id>")
@blueprint.response(200, responses.BackfillRunSchema)
@blueprint.alt_response(404, schema=responses.ErrorSchema, description="no such run")
def get_backfill(name: str, run_id: int) -> BackfillRun:
    """One backfill run of a handler: its state and progress"""
    run = None if run_id > MAX_RUN_ID else container_of().backfills.runs.get(run_id)
    if run is None or run["handler"] != name:
        abort(404, description=f"{name[:SHOWN_NAME_LENGTH]} has no backfill {run_id}")
    return run
