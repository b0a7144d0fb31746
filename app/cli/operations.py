"""``flask outbox|projections|events`` commands."""

import json
import signal
import threading
import time

import click
from flask.cli import AppGroup

from app.application.event_handlers.projections import PROJECTIONS
from app.application.maintenance import ProjectionRebuildJob, RebuildReport
from app.application.wire_contract import SchemaChanged
from app.container import container_of

outbox_cli = AppGroup("outbox", help="Inspect and drive the transactional outbox.")
projections_cli = AppGroup("projections", help="Maintain the read models.")
events_cli = AppGroup("events", help="Read the event store.")
aggregates_cli = AppGroup("aggregates", help="Check the write side against the event store.")


@outbox_cli.command("stats")
def outbox_stats() -> None:
    """Deliveries by status and handler, as JSON."""
    click.echo(json.dumps(container_of().outbox_reader.stats(), indent=2))


@outbox_cli.command("relay")
@click.option(
    "--follow",
    is_flag=True,
    help="Keep running: publish deliveries as their commands commit (SIGTERM or Ctrl-C stops).",
)
def outbox_relay(follow: bool) -> None:
    """Publish every due delivery now (what beat does every OUTBOX_RELAY_INTERVAL), or, with
    --follow, run the relay that publishes each command's deliveries at its commit."""
    c = container_of()
    if not follow:
        report = c.relay.sweep(time_budget=60.0)
        click.echo(
            f"claimed {report.claimed}, published {report.published}, failed {report.failed}"
        )
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"relay: following the outbox ({c.engine.dialect.name}); SIGTERM stops it")
    c.relay_follower.follow(stop)
    click.echo("relay: stopped")


@projections_cli.command("rebuild")
@click.argument("names", nargs=-1, type=click.Choice(sorted(PROJECTIONS)))
@click.option(
    "--batch-size",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Aggregates folded per batch.",
)
def projections_rebuild(names: tuple[str, ...], batch_size: int) -> None:
    """Fold the event store into shadow tables and swap them in, without downtime.

    Live reads and live projection updates go on during the rebuild; the swap is one
    short transaction. Interrupting it (Ctrl-C) leaves the live projections as they were;
    run it again to start over. With no NAME, every projection is rebuilt.
    """
    rebuild = container_of().projection_rebuild
    for name in names or sorted(PROJECTIONS):
        report = _rebuild_with_progress(rebuild(PROJECTIONS[name], batch_size))
        click.echo(
            f"rebuilt {name}: {report.rows} rows from {report.events} events in "
            f"{report.seconds:.2f} s ({report.events_per_second:,.0f} events/s); "
            f"{report.catch_up_rounds} catch-up round(s); swap {report.swap_seconds * 1000:.0f} ms"
        )
        if report.undecodable:
            click.echo(
                f"  left out {len(report.undecodable)} stream(s) with an undecodable event "
                f"(as the live projection does): {', '.join(report.undecodable[:10])}",
                err=True,
            )


def _rebuild_with_progress(rebuild: ProjectionRebuildJob) -> RebuildReport:
    began, done = time.perf_counter(), 0

    def rate(_item: object) -> str:
        elapsed = time.perf_counter() - began
        return f"{done / elapsed:,.0f} events/s" if elapsed > 0 else ""

    with click.progressbar(
        length=rebuild.event_count(),
        label=f"{rebuild.name:<16}",
        show_eta=True,
        show_percent=True,
        item_show_func=rate,
    ) as bar:

        def advance(events: int) -> None:
            nonlocal done
            done += events
            bar.update(events, events)

        return rebuild.run(advance)


@events_cli.command("trace")
@click.argument("correlation_id")
def events_trace(correlation_id: str) -> None:
    """One request's whole chain: its events and every handler delivery of each."""
    log = container_of().event_log
    after: int | None = 0
    while after is not None:
        found = log.trace(correlation_id, after=after)
        if found is None:
            raise click.ClickException(f"no events with correlation id {correlation_id}")
        page, after = found
        for event in page:
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
    """Every wire name as JSON: each (event type, schema version)'s payload fields and types,
    handler task names with their queues, and each event type's subscribers.

    Without --write, print the snapshot the code implies and exit 1 if the committed file
    lacks or contradicts it. With --write, add the current versions to the file and replace
    the names, and rewrite the event catalog built from it (what `events catalog --write`
    writes); a changed payload under an already-recorded version is refused (bump the
    version, add an upcaster).
    """
    event_catalog = container_of().event_catalog
    try:
        contract = event_catalog.contract()
    except SchemaChanged as exc:
        raise click.ClickException(str(exc)) from None
    if write:
        for path in event_catalog.write_contract():
            click.echo(f"wrote {path}")
        return
    click.echo(contract.text, nl=False)
    if not contract.up_to_date:
        raise click.ClickException(f"{contract.path} is out of date: run --write")


@events_cli.command("catalog")
@click.option("--write", is_flag=True, help="Rewrite docs/asyncapi.json from the code.")
def events_catalog(write: bool) -> None:
    """The event catalog as AsyncAPI 3.0.0 JSON: what GET /api/asyncapi.json serves.

    Without --write, print it and exit 1 if the committed docs/asyncapi.json differs. With
    --write, rewrite that file; refused while the wire contract is out of date (run
    `events schema --write` first), so the committed catalog names no version the contract
    lacks. A payload changed under a recorded version is refused either way, as there.
    """
    event_catalog = container_of().event_catalog
    try:
        document = event_catalog.catalog()
    except SchemaChanged as exc:
        raise click.ClickException(str(exc)) from None
    if write:
        contract = event_catalog.contract()
        if not contract.up_to_date:
            raise click.ClickException(
                f"{contract.path} is out of date: run `flask --app app events schema --write` first"
            )
        click.echo(f"wrote {event_catalog.write_catalog()}")
        return
    click.echo(document.text, nl=False)
    if not document.up_to_date:
        raise click.ClickException(f"{document.path} is out of date: run --write")


@aggregates_cli.command("verify")
def aggregates_verify() -> None:
    """Fold every order's events and compare with its stored state; exit 1 on any mismatch."""
    report = container_of().verify_orders()
    for mismatch in report.mismatches:
        click.echo(mismatch, err=True)
    click.echo(f"checked {report.checked} order(s), mismatched {report.mismatched}")
    if report.mismatched:
        raise SystemExit(1)
