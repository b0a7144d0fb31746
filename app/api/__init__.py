"""HTTP adapters: blueprints translate JSON to commands and projections to JSON."""

from flask import Flask


def register_api(app: Flask) -> None:
    from app.api import (
        admin,
        auth,
        commands,
        correlation,
        dead_letters,
        errors,
        event_catalog,
        events,
        handlers,
        metrics,
        openapi,
        ops,
        queries,
        security_headers,
        unstorable_text,
    )

    security_headers.install(app)
    metrics.install(app)
    correlation.install(app)
    auth.install(app)
    unstorable_text.install(app)
    ops.install(app)
    errors.install(app)
    api = openapi.install(app)
    correlation_header = [openapi.CORRELATION]
    api.register_blueprint(admin.probes, parameters=correlation_header)
    api.register_blueprint(
        commands.blueprint, parameters=[*correlation_header, openapi.IDEMPOTENCY_KEY]
    )
    api.register_blueprint(
        queries.blueprint, parameters=[*correlation_header, openapi.MIN_POSITION]
    )
    api.register_blueprint(admin.outbox, parameters=correlation_header)
    api.register_blueprint(handlers.blueprint, parameters=correlation_header)
    api.register_blueprint(dead_letters.blueprint, parameters=correlation_header)
    api.register_blueprint(metrics.blueprint, parameters=correlation_header)
    api.register_blueprint(events.blueprint, parameters=correlation_header)
    api.register_blueprint(event_catalog.blueprint, parameters=correlation_header)
    app.register_blueprint(ops.blueprint)
