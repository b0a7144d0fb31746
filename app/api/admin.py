"""Probes (liveness, readiness) and the outbox figures."""

from typing import Any

from flask import Response, current_app, jsonify

from app.api import responses
from app.api.auth import Access
from app.api.openapi import ApiBlueprint
from app.container import container_of

probes = ApiBlueprint(
    "probes",
    __name__,
    access=Access.PUBLIC,
    description="Liveness and readiness probes for orchestrators and load balancers.",
)
outbox = ApiBlueprint(
    "outbox",
    __name__,
    url_prefix="/api/outbox",
    access=Access.OPERATIONS,
    description="The outbox: deliveries by status and handler.",
)


@probes.route("/healthz")
@probes.response(200, responses.HealthSchema)
def healthz() -> dict[str, str]:
    """Liveness: the process answers (checks nothing else)"""
    return {"status": "ok"}


@probes.route("/readyz")
@probes.response(200, responses.ReadinessSchema)
@probes.alt_response(503, schema=responses.ReadinessSchema, description="a check failed")
def readyz() -> Response | dict[str, object]:
    """Readiness: the database answers, migrations are at head, the broker is reachable"""
    readiness = container_of().readiness
    checks = readiness.check()
    answer: dict[str, object] = {
        "checks": checks,
        "relay_heartbeat_age_seconds": readiness.relay_age(),
    }
    if any(value != readiness.OK for value in checks.values()):
        current_app.logger.warning("not ready: %s", checks)
        response: Response = jsonify(answer)
        response.status_code = 503
        return response
    return answer


@outbox.route("/stats")
@outbox.response(200, responses.OutboxStatsSchema)
def outbox_stats() -> dict[str, Any]:
    """Deliveries by status and handler, and the age of the oldest unfinished one"""
    return container_of().outbox_reader.stats()
