"""``flask outbox|projections|events`` commands."""

import json

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.api.context import container
from app.application.event_handlers.projections import rebuild_projections
from app.infrastructure.persistence.database import read_only
from app.infrastructure.persistence.sql import as_utc
from app.infrastructure.persistence.tables import events, outbox

outbox_cli = AppGroup("outbox", help="Inspect and drive the transactional outbox.")
projections_cli = AppGroup("projections", help="Maintain the read models.")
events_cli = AppGroup("events", help="Read the event store.")


@outbox_cli.command("stats")
def outbox_stats() -> None:
    """Deliveries by status and handler, as JSON."""
    click.echo(json.dumps(container().outbox_stats(), indent=2))


@outbox_cli.command("relay")
def outbox_relay() -> None:
    """Publish every due delivery now (what beat does every OUTBOX_RELAY_INTERVAL)."""
    report = container().relay.sweep(time_budget=60.0)
    click.echo(f"claimed {report.claimed}, published {report.published}, failed {report.failed}")


@projections_cli.command("rebuild")
def projections_rebuild() -> None:
    """Drop the projections and fold them again from the event store, in one transaction."""
    with container().uow() as uow:
        orders, users = rebuild_projections(uow)
        uow.commit()
    click.echo(f"rebuilt {orders} order summaries and {users} user profiles")


@events_cli.command("trace")
@click.argument("correlation_id")
def events_trace(correlation_id: str) -> None:
    """One request's whole chain: its events and every handler delivery of each."""
    with read_only(container().engine).connect() as conn:
        rows = conn.execute(
            sa.select(events)
            .where(events.c.correlation_id == correlation_id)
            .order_by(events.c.position)
        ).all()
        if not rows:
            raise click.ClickException(f"no events with correlation id {correlation_id}")
        for row in rows:
            click.echo(
                f"{as_utc(row.occurred_at).isoformat()} #{row.position} {row.event_type} "
                f"{row.aggregate_type}/{row.aggregate_id} v{row.aggregate_version} "
                f"event={row.event_id} caused_by={row.causation_id}"
            )
            for d in conn.execute(
                sa.select(outbox).where(outbox.c.event_id == row.event_id).order_by(outbox.c.id)
            ):
                click.echo(f"    {d.handler:<26} {d.status:<10} attempts={d.attempts}")
