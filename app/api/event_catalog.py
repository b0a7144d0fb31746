"""The event catalog over HTTP: ``/api/asyncapi.json`` (AsyncAPI 3.0.0) and ``/api/asyncapi``.

Both are PUBLIC, like the OpenAPI document and Swagger UI: they describe the wire formats
partners and handler authors build against, and show no stored data. The document is
built once per process (the container's ``event_catalog``); the page renders the same
document.
"""

import re

from flask import Response, render_template
from markupsafe import Markup, escape

from app.api.auth import Access
from app.api.openapi import ApiBlueprint
from app.container import container_of

CODE_SPAN = re.compile(r"``?([^`]+)``?")

blueprint = ApiBlueprint(
    "event_catalog",
    __name__,
    access=Access.PUBLIC,
    template_folder="templates",
    description="The event catalog: every event we publish, at every schema version, "
    "its payload's JSON Schema, and the webhooks and handler tasks that carry it.",
)


def code_spans(text: str) -> Markup:
    """Markdown's `code` (and reStructuredText's ``code``) as <code>; the rest escaped."""
    return Markup(CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


blueprint.add_app_template_filter(code_spans, "code_spans")


@blueprint.route("/api/asyncapi.json")
@blueprint.alt_response(
    200,
    success=True,
    schema={"type": "object", "required": ["asyncapi", "info"]},
    content_type="application/json",
    description="An AsyncAPI 3.0.0 document",
)
def asyncapi_json() -> Response:
    """The event catalog as AsyncAPI 3.0.0, generated from the event classes"""
    return Response(container_of().event_catalog.served_json(), mimetype="application/json")


@blueprint.route("/api/asyncapi")
@blueprint.alt_response(
    200,
    success=True,
    schema={"type": "string"},
    content_type="text/html",
    description="The event catalog as an HTML page",
)
def asyncapi_page() -> str:
    """The event catalog as a page: events, versions, fields, consumers, examples"""
    return render_template("catalog/asyncapi.html", catalog=container_of().event_catalog.page())
