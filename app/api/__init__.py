"""HTTP adapters: blueprints translate JSON to commands and projections to JSON."""

from flask import Flask


def register_api(app: Flask) -> None:
    from app.api import (
        admin,
        commands,
        correlation,
        dead_letters,
        errors,
        events,
        metrics,
        ops,
        queries,
    )

    metrics.install(app)
    correlation.install(app)
    ops.install(app)
    errors.install(app)
    app.register_blueprint(commands.blueprint)
    app.register_blueprint(queries.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(dead_letters.blueprint)
    app.register_blueprint(events.blueprint)
    app.register_blueprint(metrics.blueprint)
    app.register_blueprint(ops.blueprint)
