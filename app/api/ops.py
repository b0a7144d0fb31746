"""The ops page (``/ops``): backlog and parked keys, handlers and their backfills, dead
letters (re-drive, skip), traces.

Server-rendered.
Every change is a form POST behind a confirmation page, and every POST carries a CSRF
token (checked here, for this blueprint only: the JSON API takes bearer tokens instead).
"""

import re
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from app.api import auth, ops_backfill, skipping
from app.api.auth import Access
from app.api.dead_letters import FilterSchema
from app.api.events import MAX_POSITION
from app.api.ops_session import (
    admin_token,
    csrf,
    operator_name,
    ops_session_required,
    sign_in,
    sign_out,
    signed_in,
    token_matches,
)
from app.application.event_handlers.registry import HANDLERS
from app.container import container_of
from app.domain.events import EVENT_CLASSES
from app.infrastructure.persistence.dead_letters import MAX_ID, DeadLetterFilter

PAGE_SIZE = 100
OPS_PATH = re.compile(r"/ops(?:[/?]|\Z)")
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
FILTER_FIELDS = ("handler", "event_type", "error")
STATUSES = ("dead", "all")
"""``?status=``: the dead letters still dead (default), or all, re-driven and skipped ones
included."""
EVENT_ID_MAX = 36

blueprint = Blueprint("ops", __name__, url_prefix="/ops", template_folder="templates")
# The page signs people in with ADMIN_TOKEN (a session cookie) and checks every request itself.
auth.protect(blueprint, Access.SIGN_IN)


def install(app: Flask) -> None:
    """CSRF checks run only where this blueprint asks for them (``WTF_CSRF_CHECK_DEFAULT``)."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)


@blueprint.before_request
def _check_form_post() -> None:
    """A POST needs a session (sign-in excepted), then a valid CSRF token."""
    if request.method != "POST":
        return
    if request.endpoint != "ops.sign_in_submit" and not signed_in():
        abort(401, description="sign in at /ops/sign-in first")
    csrf.protect()


def _filters(source: Any) -> dict[str, str]:
    """The dead-letter filters of a query string or form: empty ones dropped, lengths checked."""
    given = {k: source.get(k, "").strip() for k in FILTER_FIELDS if source.get(k, "").strip()}
    try:
        FilterSchema().load(given)
    except ValidationError as exc:
        abort(400, description=f"invalid filter: {exc.messages}")
    return given


def _status(source: Any) -> str:
    status = source.get("status", "").strip() or STATUSES[0]
    if status not in STATUSES:
        abort(400, description=f"invalid status {status[:20]!r}: one of {', '.join(STATUSES)}")
    return str(status)


def _where(filters: dict[str, str], status: str = "dead") -> DeadLetterFilter:
    return DeadLetterFilter(
        handler=filters.get("handler"),
        event_type=filters.get("event_type"),
        error=filters.get("error"),
        include_redriven=status == "all",
    )


def _existing(dead_letter_id: int) -> dict[str, Any]:
    item = None if dead_letter_id > MAX_ID else container_of().dead_letters.get(dead_letter_id)
    if item is None:
        abort(404, description=f"dead letter {dead_letter_id} does not exist")
    return item


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this page, else its overview. Never another
    site (``//host``, ``https:``), and never a control character: CR/LF cannot go into the
    ``Location`` header (Werkzeug raises), and a browser drops tabs before reading a URL."""
    if target and OPS_PATH.match(target) and not CONTROL_CHARACTER.search(target):
        return target
    return url_for("ops.overview")


@blueprint.get("/sign-in")
def sign_in_form() -> str:
    """Without ADMIN_TOKEN (development) the form says none is needed and links onwards."""
    return render_template("ops/sign_in.html", next=_safe_next(request.args.get("next")))


@blueprint.post("/sign-in")
def sign_in_submit() -> Response | tuple[str, int]:
    target = _safe_next(request.form.get("next"))
    if not admin_token():
        return redirect(target)  # the page is open: there is no token to check
    if not token_matches(request.form.get("token", "")):
        return render_template("ops/sign_in.html", next=target, refused=True), 401
    sign_in()
    return redirect(target)


@blueprint.post("/sign-out")
def sign_out_submit() -> Response:
    sign_out()
    return redirect(url_for("ops.sign_in_form"))


@blueprint.get("")
@ops_session_required
def overview() -> str:
    c = container_of()
    reader = c.outbox_reader
    backlogs, dead = reader.overview([spec.name for spec in HANDLERS])
    return render_template(
        "ops/overview.html",
        backlogs=backlogs,
        dead=dead,
        parked=reader.parked_keys(),
        statuses=reader.UNFINISHED_STATUSES,
        handlers=reader.handlers(c.subscriptions),
    )


blueprint.add_url_rule(
    "/handlers/<name>/backfill",
    "backfill",
    ops_session_required(ops_backfill.backfill),
    methods=["GET", "POST"],
)


@blueprint.get("/dead-letters")
@ops_session_required
def dead_letters() -> str:
    filters = _filters(request.args)
    status = _status(request.args)
    store = container_of().dead_letters
    where = _where(filters, status)
    return render_template(
        "ops/dead_letters.html",
        filters=filters,
        status=status,
        items=store.search(where, limit=PAGE_SIZE),
        count=store.count(where),
        handlers=[spec.name for spec in HANDLERS],
        event_types=sorted(EVENT_CLASSES),
    )


@blueprint.get("/dead-letters/<int:dead_letter_id>")
@ops_session_required
def dead_letter(dead_letter_id: int) -> str:
    item = _existing(dead_letter_id)
    c = container_of()
    current = parked = None
    if item["delivery_id"] is not None:
        current = c.outbox_reader.delivery(item["delivery_id"])
        parked = c.outbox_reader.parked_behind(item["delivery_id"])
    event = c.event_log.get(item["event_id"]) if item["event_id"] else None
    return render_template(
        "ops/dead_letter.html",
        item=item,
        delivery=current,
        event=event,
        parked=parked,
        unfinished=c.outbox_reader.UNFINISHED_STATUSES,
    )


def _parked_behind(item: dict[str, Any]) -> Any:
    if item["delivery_id"] is None:
        return None
    return container_of().outbox_reader.parked_behind(item["delivery_id"])


@blueprint.get("/events/<event_id>")
@ops_session_required
def event(event_id: str) -> str:
    """One stored event, its payload and its deliveries, linked to its whole trace."""
    found = container_of().event_log.get(event_id) if len(event_id) <= EVENT_ID_MAX else None
    if found is None:
        abort(404, description=f"event {event_id[:EVENT_ID_MAX]} does not exist")
    return render_template("ops/event.html", event=found)


@blueprint.route("/dead-letters/<int:dead_letter_id>/retry", methods=["GET", "POST"])
@ops_session_required
def retry_one(dead_letter_id: int) -> Response | str:
    item = _existing(dead_letter_id)
    if request.method == "GET":
        return render_template("ops/confirm_retry_one.html", item=item)
    retried = container_of().dead_letters.redrive([dead_letter_id])
    if retried:
        flash(f"Dead letter #{dead_letter_id} re-driven: its delivery is pending again.")
    else:
        flash(f"Dead letter #{dead_letter_id} was not re-driven (status {item['status']}).")
    return redirect(url_for("ops.dead_letter", dead_letter_id=dead_letter_id))


@blueprint.route("/dead-letters/<int:dead_letter_id>/skip", methods=["GET", "POST"])
@ops_session_required
def skip_one(dead_letter_id: int) -> Response | str:
    """Skip one dead letter for good, recording the signed-in session as who skipped it."""
    item = _existing(dead_letter_id)
    if request.method == "GET":
        return render_template(
            "ops/confirm_skip_one.html",
            item=item,
            refusal=skipping.refusal(dead_letter_id, item),
            parked=_parked_behind(item),
        )
    outcome = skipping.skip(
        container_of().dead_letters, [dead_letter_id], by=f"ops:{operator_name()}"
    )
    if outcome.skipped:
        flash(f"Dead letter #{dead_letter_id} skipped: its delivery will never run.")
    for refused in outcome.refused:
        flash(f"Not skipped: {refused.reason}.")
    return redirect(url_for("ops.dead_letter", dead_letter_id=dead_letter_id))


@blueprint.route("/dead-letters/retry", methods=["GET", "POST"])
@ops_session_required
def retry_matching() -> Response | str:
    store = container_of().dead_letters
    if request.method == "GET":
        filters = _filters(request.args)
        ids = store.matching(_where(filters))
        return render_template("ops/confirm_retry_matching.html", filters=filters, ids=ids)
    filters = _filters(request.form)
    retried = store.redrive(store.matching(_where(filters)))
    flash(f"Re-drove {len(retried)} dead letter(s).")
    query: dict[str, Any] = dict(filters)
    return redirect(url_for("ops.dead_letters", **query))


class TraceLookupSchema(Schema):
    """``/ops/trace`` arguments: the correlation id and where the page starts."""

    correlation_id = fields.String(load_default="", validate=validate.Length(max=64))
    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_POSITION))


@blueprint.get("/trace")
@ops_session_required
def trace_lookup() -> str:
    try:
        args = TraceLookupSchema().load(request.args)
    except ValidationError as exc:
        abort(400, description=f"invalid trace lookup: {exc.messages}")
    correlation_id = args["correlation_id"].strip()
    reader = container_of().outbox_reader
    chain, next_after = (
        reader.trace(correlation_id, after=args["after"]) if correlation_id else ([], None)
    )
    return render_template(
        "ops/trace.html",
        correlation_id=correlation_id,
        chain=chain,
        after=args["after"],
        next_after=next_after,
    )


@blueprint.errorhandler(HTTPException)
def _error_page(exc: HTTPException) -> tuple[str, int]:
    """The page's refusals (bad filter, missing CSRF token, unknown id) as HTML, not JSON."""
    status = exc.code or 500
    message = exc.description or exc.name
    return render_template("ops/error.html", status=status, name=exc.name, message=message), status


@blueprint.errorhandler(ValidationError)
def _invalid_input_page(exc: ValidationError) -> tuple[str, int]:
    """Input refused before the view (``unstorable_text``): a 400 page, like a bad filter."""
    message = f"invalid input: {exc.messages}"
    return render_template("ops/error.html", status=400, name="Bad Request", message=message), 400


@blueprint.app_template_filter("age")
def readable_age(seconds: float) -> str:
    """A wait an operator reads at a glance: seconds, then minutes, hours, days."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


@blueprint.context_processor
def _page_globals() -> dict[str, Any]:
    return {"ops_signed_in": signed_in(), "ops_open": not admin_token()}
