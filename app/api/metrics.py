"""``GET /metrics`` and the HTTP latency histogram, labelled by URL rule (never the raw path)."""

import time

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest

from app.api.auth import Access
from app.api.openapi import ApiBlueprint
from app.container import container_of

UNMATCHED_ROUTE = "unmatched"
"""The ``route`` label of requests no URL rule matched (404s, bad methods on unknown paths)."""

HTTP_REQUEST_DURATION = Histogram(
    "outboxflow_http_request_duration_seconds",
    "Time from the request's arrival in Flask to its response, by URL rule.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

blueprint = ApiBlueprint(
    "metrics", __name__, access=Access.OPERATIONS, description="Prometheus metrics."
)


@blueprint.route("/metrics")
@blueprint.alt_response(
    200,
    success=True,
    schema={"type": "string"},
    content_type="text/plain",
    description="Prometheus text exposition format",
)
def metrics() -> Response:
    """The web's metrics and the outbox gauges, for Prometheus"""
    c = container_of()
    registry = c.metrics.scrape_registry(c.outbox_collector)
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def install(app: Flask) -> None:
    @app.before_request
    def _start_clock() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("request_started")
        if started is not None:
            rule = request.url_rule
            HTTP_REQUEST_DURATION.labels(
                rule.rule if rule is not None else UNMATCHED_ROUTE,
                request.method,
                str(response.status_code),
            ).observe(time.perf_counter() - started)
        return response
