"""``flask outbox|projections|events`` commands."""

import json

import click
from flask.cli import AppGroup

from app.api.context import container
from app.application.event_handlers.projections import rebuild_projections
from app.infrastructure.messaging import schema_snapshot
from app.infrastructure.persistence.database import read_only
from app.infrastructure.persistence.event_log import EventLog

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
    found = EventLog(read_only(container().engine)).trace(correlation_id)
    if not found:
        raise click.ClickException(f"no events with correlation id {correlation_id}")
    for event in found:
        click.echo(
            f"{event['occurred_at']} #{event['position']} {event['type']} "
            f"{event['aggregate_type']}/{event['aggregate_id']} v{event['aggregate_version']} "
            f"event={event['event_id']} caused_by={event['causation_id']}"
        )
        for d in event["deliveries"]:
            attempts = "-" if d["attempts"] is None else d["attempts"]
            click.echo(f"    {d['handler']:<26} {d['status']:<10} attempts={attempts}")


@events_cli.command("schema")
@click.option("--write", is_flag=True, help="Add the code's current versions to the snapshot.")
def events_schema(write: bool) -> None:
    """Every (event type, schema version)'s payload fields and types, as JSON.

    Without --write, print the snapshot the code implies and exit 1 if the committed file
    lacks or contradicts it. With --write, add the current versions to the file; a changed
    payload under an already-recorded version is refused (bump the version, add an upcaster).
    """
    committed = schema_snapshot.load()
    try:
        wanted = schema_snapshot.merged(committed)
    except schema_snapshot.SchemaChanged as exc:
        raise click.ClickException(str(exc)) from None
    text = schema_snapshot.dump(wanted)
    if write:
        schema_snapshot.SNAPSHOT_PATH.write_text(text)
        click.echo(f"wrote {schema_snapshot.SNAPSHOT_PATH}")
        return
    click.echo(text, nl=False)
    if wanted != committed:
        raise click.ClickException(f"{schema_snapshot.SNAPSHOT_PATH} is out of date: run --write")
