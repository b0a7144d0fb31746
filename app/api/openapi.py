"""The OpenAPI 3 document (``/api/openapi.json``) and Swagger UI (``/api/docs``).

flask-smorest builds the document from the routes and marshmallow schemas the views are
declared with, so it cannot drift from what the API parses and answers. Swagger UI's
assets come from the ``swagger-ui-bundle`` package, served here: nothing from a CDN; its
page is ``swagger_ui``'s, which the Content-Security-Policy lets run.

Add a route to the document by declaring it on an ``ApiBlueprint`` (``@blueprint.arguments``,
``@blueprint.response``, ``@blueprint.alt_response``) and registering it with
``register_blueprint``; its access category (``app.api.auth``) also sets its security.
"""

import http
import threading
from collections.abc import Callable, Mapping, Sequence
from copy import deepcopy
from typing import Any, TypeVar, cast

import flask_smorest
from flask import Blueprint, Flask
from flask_smorest.utils import deepupdate, prepare_response
from marshmallow import Schema
from swagger_ui_bundle import swagger_ui_path

from app.api import auth, swagger_ui
from app.api.auth import Access
from app.api.correlation import HEADER as CORRELATION_HEADER
from app.api.parsing import OPTIONAL_JSON, RequestParser
from app.api.responses import ErrorSchema

DOCS_ASSETS_PATH = "/api/docs/assets"
BEARER = "bearerAuth"

CORRELATION = "CorrelationId"
IDEMPOTENCY_KEY = "IdempotencyKey"
MIN_POSITION = "MinPosition"
EVENT_POSITION = "EventPosition"
IDEMPOTENT_REPLAYED = "IdempotentReplayed"
RETRY_AFTER = "RetryAfter"
WWW_AUTHENTICATE = "WwwAuthenticate"

REQUEST_HEADERS: dict[str, dict[str, Any]] = {
    CORRELATION: {
        "in": "header",
        "name": CORRELATION_HEADER,
        "required": False,
        "description": "Trace id for this request's chain of events and handler runs; "
        "a new one is made when absent or malformed. Echoed on every response.",
        "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"},
    },
    IDEMPOTENCY_KEY: {
        "in": "header",
        "name": "Idempotency-Key",
        "required": False,
        "description": "A command repeated with the same key is answered like the first "
        "time and runs once. Not kept, so the same key runs again: a 5xx, a body refused "
        "before the command ran (422 validation_failed), a 409 for a lost race on the "
        "aggregate.",
        "schema": {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"},
    },
    MIN_POSITION: {
        "in": "header",
        "name": "X-Min-Position",
        "required": False,
        "description": "Read your writes: the X-Event-Position a command answered with; "
        "the query waits for the projections to reach it (503 projection_lagging after "
        "READ_YOUR_WRITES_TIMEOUT_MS). A position past the newest event is refused at once: "
        "422 validation_failed, naming the newest position.",
        "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
    },
}
RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    CORRELATION: {
        "description": "The request's correlation id (the caller's, or a new one).",
        "schema": {"type": "string"},
    },
    EVENT_POSITION: {
        "description": "Event-store position of the command's last event "
        "(send it back as X-Min-Position).",
        "schema": {"type": "integer", "minimum": 0},
    },
    IDEMPOTENT_REPLAYED: {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same Idempotency-Key (nothing ran again); absent otherwise.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    RETRY_AFTER: {
        "description": "Seconds to wait before retrying (a lagging projection, a lost "
        "database connection).",
        "schema": {"type": "integer", "minimum": 0},
    },
    WWW_AUTHENTICATE: {
        "description": "The scheme to authenticate with: `Bearer`.",
        "schema": {"type": "string"},
    },
}
HEADER_NAMES = {
    CORRELATION: CORRELATION_HEADER,
    EVENT_POSITION: "X-Event-Position",
    IDEMPOTENT_REPLAYED: "Idempotent-Replayed",
    RETRY_AFTER: "Retry-After",
    WWW_AUTHENTICATE: "WWW-Authenticate",
}
"""Each response header component's header name."""


ERROR_EXAMPLES: dict[int, dict[str, Any]] = {
    400: {"error": "bad_request", "message": "the request body is not valid JSON"},
    401: {"error": "unauthorized", "message": "send Authorization: Bearer <ADMIN_TOKEN>"},
    404: {
        "error": "not_found",
        "message": "order 743e863c-b698-47f2-a6c7-fba1ef45c1ed does not exist",
    },
    405: {
        "error": "method_not_allowed",
        "message": "The method is not allowed for the requested URL.",
    },
    409: {"error": "conflict", "message": "cannot pay an order that is cancelled"},
    413: {
        "error": "request_entity_too_large",
        "message": "The data value transmitted exceeds the capacity limit.",
    },
    415: {
        "error": "unsupported_media_type",
        "message": "send a JSON body with Content-Type: application/json",
    },
    422: {
        "error": "validation_failed",
        "message": "the request has invalid fields",
        "fields": {"email": ["Not a valid email address."]},
    },
    500: {"error": "internal_error", "message": "an unexpected error occurred"},
    503: {
        "error": "database_unavailable",
        "message": "the database connection was lost; retry the request",
    },
}
"""The example each refusal is documented with: its status's usual ``errors.py`` code."""


def _error_example(status: int | str) -> dict[str, Any] | None:
    return ERROR_EXAMPLES.get(int(status)) if str(status).isdigit() else None


T_view = TypeVar("T_view", bound=Callable[..., Any])
"""A view function: flask-smorest's decorators hand back the view they wrap, for Flask to
call (as Flask types its own ``route``)."""
SchemaLike = type[Schema] | Schema | Mapping[str, object]
"""A marshmallow schema (class or instance) or a raw OpenAPI schema object."""


class ApiBlueprint(flask_smorest.Blueprint):
    """A documented blueprint in one access category.

    ``success_headers``: response header components its successful answers carry;
    ``answer_headers``: those every answer of its own may carry, refusals included.
    """

    ARGUMENTS_PARSER = RequestParser()
    _docs: dict[str, Any]
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        OPTIONAL_JSON: "application/json",
    }

    def __init__(
        self,
        name: str,
        import_name: str,
        *,
        access: Access,
        success_headers: Sequence[str] = (),
        answer_headers: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(name, import_name, **kwargs)
        auth.protect(self, access)
        self.success_headers = tuple(success_headers)
        self.answer_headers = tuple(answer_headers)
        self._prepare_doc_cbks.append(self._prepare_headers_doc)

    # flask-smorest has no type annotations: these say what its decorators take and give,
    # and change nothing else.

    def route(
        self,
        rule: str,
        *,
        parameters: Sequence[str | Mapping[str, object]] | None = None,
        tags: Sequence[str] | None = None,
        **options: object,
    ) -> Callable[[T_view], T_view]:
        decorate = super().route(rule, parameters=parameters, tags=tags, **options)
        return cast(Callable[[T_view], T_view], decorate)

    def arguments(
        self,
        schema: type[Schema] | Schema,
        *,
        location: str = "json",
        content_type: str | None = None,
        required: bool = True,
        description: str | None = None,
        example: object = None,
        examples: Mapping[str, object] | None = None,
        **kwargs: object,
    ) -> Callable[[T_view], T_view]:
        # webargs builds a schema per request from a class (and again each nested schema
        # in it); a load keeps no state in the schema, so one instance serves every request.
        decorate = super().arguments(
            schema() if isinstance(schema, type) else schema,
            location=location,
            content_type=content_type,
            required=required,
            description=description,
            example=example,
            examples=examples,
            **kwargs,
        )
        return cast(Callable[[T_view], T_view], decorate)

    def response(
        self,
        status_code: int | str,
        schema: SchemaLike | None = None,
        *,
        content_type: str | None = None,
        description: str | None = None,
        example: object = None,
        examples: Mapping[str, object] | None = None,
        headers: Mapping[str, object] | None = None,
    ) -> Callable[[T_view], T_view]:
        decorate = super().response(
            status_code,
            schema,
            content_type=content_type,
            description=description,
            example=example,
            examples=examples,
            headers=headers,
        )
        return cast(Callable[[T_view], T_view], decorate)

    def alt_response(
        self,
        status_code: int | str,
        response: str | None = None,
        *,
        schema: SchemaLike | None = None,
        content_type: str | None = None,
        description: str | None = None,
        example: object = None,
        examples: Mapping[str, object] | None = None,
        headers: Mapping[str, object] | None = None,
        success: bool = False,
    ) -> Callable[[T_view], T_view]:
        decorate = super().alt_response(
            status_code,
            response,
            schema=schema,
            content_type=content_type,
            description=description,
            example=example,
            examples=examples,
            headers=headers,
            success=success,
        )
        return cast(Callable[[T_view], T_view], decorate)

    @staticmethod
    def doc(**kwargs: object) -> Callable[[T_view], T_view]:
        return cast(Callable[[T_view], T_view], flask_smorest.Blueprint.doc(**kwargs))

    def _prepare_headers_doc(self, doc: dict[str, Any], doc_info: Any, **_: Any) -> Any:
        """Name the headers on each response documented inline. A shared response (a ref,
        such as 422's) carries its own, unless ``answer_headers`` add to it: then it is
        written out inline for this operation."""
        responses = doc.get("responses", {})
        for code, response in responses.items():
            if not isinstance(response, dict):
                if not self.answer_headers or code == "default":
                    continue
                response = responses[code] = _inline_error(int(code))
            example = _error_example(code)
            json_body = response.get("content", {}).get("application/json")
            if example is not None and json_body is not None and "schema" in json_body:
                json_body.setdefault("example", example)
            names = [CORRELATION, *self.answer_headers]
            if str(code).startswith("2"):
                names += self.success_headers
            headers = response.setdefault("headers", {})
            for name in names:
                headers.setdefault(HEADER_NAMES[name], name)
        return doc

    def register_views_in_doc(
        self, api: Any, app: Flask, spec: Any, *, name: str, parameters: Any
    ) -> None:
        """Document each operation's security from its endpoint's access category."""
        original = self._docs
        self._docs = deepcopy(original)
        try:
            for endpoint, info in self._docs.items():
                security = _security_doc(auth.access_of(app, f"{name}.{endpoint}"))
                for method, operation in info.items():
                    if method != "parameters":
                        generated = {"operationId": endpoint, **deepcopy(security)}
                        operation["manual_doc"] = deepupdate(
                            generated, operation.get("manual_doc", {})
                        )
            super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)
        finally:
            self._docs = original


def links(status: int, **targets: Mapping[str, object]) -> dict[str, object]:
    """``blueprint.doc(**links(201, GetOrder={...}))``: what a response's ids lead to.

    Each target is an OpenAPI link object (``operationId`` + ``parameters``/``requestBody``
    with runtime expressions such as ``$response.body#/order_id``).
    """
    return {"responses": {status: {"links": targets}}}


def _inline_error(status: int) -> dict[str, Any]:
    """A refusal in the API's error shape, for one operation (not the shared response)."""
    phrase = http.HTTPStatus(status).phrase
    body: dict[str, Any] = {"schema": ErrorSchema}
    if (example := _error_example(status)) is not None:
        body["example"] = example
    return {"description": phrase, "content": {"application/json": body}}


def _security_doc(category: Access) -> dict[str, Any]:
    if category in (Access.PUBLIC, Access.SIGN_IN):
        return {"security": []}
    unauthorized = {"responses": {"401": http.HTTPStatus.UNAUTHORIZED.name}}
    if category is Access.API:
        return {"security": [{BEARER: []}, {}], **unauthorized}
    return {"security": [{BEARER: []}], **unauthorized}


class Api(flask_smorest.Api):
    """flask-smorest's Api, with the API's own error bodies and headers, and a document
    written on first use.

    ``register_blueprint`` registers the routes at once but documents them only when
    ``spec`` is first read (serving ``/api/openapi.json``, ``flask openapi``): writing the
    document costs more than the rest of ``create_app``, and a worker, the relay or a
    ``flask`` command never reads it.
    """

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, app: Flask, *, spec_kwargs: dict[str, Any]) -> None:
        self._undocumented: list[tuple[Any, str, Any]] = []
        self._documenting = threading.Lock()
        self._spec: Any = None
        super().__init__(app, spec_kwargs=spec_kwargs)

    @property
    def spec(self) -> Any:
        """The document, with every registered blueprint's operations in it.

        A blueprint leaves ``_undocumented`` only once it is in the document, so a thread
        that finds the list empty never reads a document another thread is still writing.
        """
        if self._undocumented:
            with self._documenting:
                while self._undocumented:
                    blueprint, name, parameters = self._undocumented[0]
                    blueprint.register_views_in_doc(
                        self, self._app, self._spec, name=name, parameters=parameters
                    )
                    self._spec.tag({"name": name, "description": blueprint.description})
                    self._undocumented.pop(0)
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        self._spec = value

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """Register ``blp``'s routes now; its operations join the document on first use."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    def _register_error_handlers(self) -> None:
        """``app/api/errors.py`` answers every error; flask-smorest's would change the body."""

    def _register_responses(self) -> None:
        """Every status's error response, carrying X-Correlation-ID like every answer."""
        correlation = {CORRELATION_HEADER: CORRELATION}
        retry_after = {**correlation, HEADER_NAMES[RETRY_AFTER]: RETRY_AFTER}
        extra = {
            http.HTTPStatus.UNAUTHORIZED: {HEADER_NAMES[WWW_AUTHENTICATE]: WWW_AUTHENTICATE},
            http.HTTPStatus.SERVICE_UNAVAILABLE: {HEADER_NAMES[RETRY_AFTER]: RETRY_AFTER},
        }
        for status in http.HTTPStatus:
            headers = {**correlation, **extra.get(status, {})}
            response: dict[str, Any] = {"description": status.phrase, "headers": headers}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
                if (example := _error_example(status)) is not None:
                    response["example"] = example
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        default = {
            "description": "Any other refusal (503 `database_unavailable` with Retry-After)",
            "schema": self.ERROR_SCHEMA,
            "example": ERROR_EXAMPLES[503],
            "headers": retry_after,
        }
        prepare_response(default, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, default, lazy=True)


def install(app: Flask) -> Api:
    """Serve the document and Swagger UI; returns the Api to register blueprints with."""
    app.config.update(
        API_TITLE="outboxflow",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=f"{DOCS_ASSETS_PATH}/",
    )
    spec_info = {
        "description": "Commands change state; events flow through a transactional outbox "
        "to Celery handlers; queries read projections. Every refusal is "
        '`{"error", "message", "fields"?}`.'
    }
    api = Api(app, spec_kwargs={"info": spec_info})
    components = api.spec.components
    components.security_scheme(
        BEARER,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "ADMIN_TOKEN for operational endpoints (when set); "
            "one of API_TOKENS (or ADMIN_TOKEN) for commands and queries (when set).",
        },
    )
    for name, parameter in REQUEST_HEADERS.items():
        components.parameter(name, parameter["in"], parameter)
    for name, header in RESPONSE_HEADERS.items():
        components.header(name, header)
    docs_blueprint = api._make_doc_blueprint_name()
    auth.protect(cast(Blueprint, app.blueprints[docs_blueprint]), Access.PUBLIC)
    swagger_ui.install(app, docs_blueprint, api.spec.title, f"{DOCS_ASSETS_PATH}/")
    assets = Blueprint(
        "api_docs_assets",
        __name__,
        static_folder=str(swagger_ui_path),
        static_url_path=DOCS_ASSETS_PATH,
    )
    auth.protect(assets, Access.PUBLIC)
    app.register_blueprint(assets)
    return api
