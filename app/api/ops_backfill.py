"""The ops page's backfill: a handler's backfill started from a confirmation form.

The same start as ``POST /api/handlers/<name>/backfill`` (``Backfills.start``), recorded as
the signed-in session's; its progress shows in the overview's Handlers table.
"""

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from app.api.handlers import BackfillSchema
from app.api.ops_session import operator_name
from app.application.backfills import (
    AlreadyRunning,
    BackfillRequest,
    HandlerDisabled,
    TaskNotSent,
)
from app.application.event_handlers.subscriptions import Subscription
from app.container import container_of

FORM_FIELDS = ("from_position", "since", "batch_size", "rate")


def backfill(name: str) -> Response | str:
    """GET: what a backfill of ``name`` does, and the form; POST: start it."""
    subscription = _subscription(name)
    if request.method == "GET":
        c = container_of()
        return render_template(
            "ops/confirm_backfill.html",
            handler=c.outbox_reader.handler(subscription),
            active=c.backfills.runs.active(name),
        )
    request_ = BackfillRequest(requested_by=f"ops:{operator_name()}", **_options(request.form))
    try:
        run = container_of().backfills.start(subscription, request_)
    except (HandlerDisabled, AlreadyRunning, TaskNotSent) as exc:
        flash(f"Not started: {exc}.")
    else:
        flash(f"Backfill #{run['id']} of {name} is {run['state']}: see Handlers below.")
    return redirect(url_for("ops.overview", _anchor="handlers"))


def _subscription(name: str) -> Subscription:
    subscription = container_of().subscriptions.get(name)
    if subscription is None:
        abort(404, description=f"no handler is named {name[:100]!r}")
    return subscription


def _options(form: Any) -> dict[str, Any]:
    """The form's filled-in options, checked as the API checks them."""
    given = {k: form.get(k, "").strip() for k in FORM_FIELDS if form.get(k, "").strip()}
    try:
        options: dict[str, Any] = BackfillSchema().load(given)
    except ValidationError as exc:
        abort(400, description=f"invalid backfill options: {exc.messages}")
    return options
