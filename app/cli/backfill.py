"""``flask handlers backfill NAME``: give a handler added later the events it missed."""

import sys
import time
from datetime import datetime

import click
from flask.cli import with_appcontext

from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.application.maintenance import BackfillJob, BackfillReport
from app.cli.dead_letters import SinceType
from app.container import container_of

PLAIN_PROGRESS_SECONDS = 2.0
"""How often a run without a terminal prints a progress line."""


@click.command("backfill")
@with_appcontext
@click.argument("name")
@click.option(
    "--from-position",
    type=click.IntRange(min=1),
    help="Start at this event position (GET /api/events shows positions).",
)
@click.option("--since", type=SinceType(), help="Start at the first event at or after this time.")
@click.option(
    "--batch-size",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Events per transaction.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=1, min_open=False),
    help="At most this many events per second, so live deliveries are not starved.",
)
@click.option("--dry-run", is_flag=True, help="Count what would be added; add nothing.")
def backfill_command(
    name: str,
    from_position: int | None,
    since: datetime | None,
    batch_size: int,
    rate: float | None,
    dry_run: bool,
) -> None:
    """Give handler NAME one delivery for every stored event it subscribes to that it has
    none for, from the start of the store (or --from-position / --since) on.

    Touches no other handler's deliveries. Safe while commands keep arriving and safe to
    interrupt (Ctrl-C) and run again: a second run adds nothing. Run it once every web and
    worker process runs the configuration that enables NAME.
    """
    if from_position is not None and since is not None:
        raise click.UsageError("give --from-position or --since, not both")
    c = container_of()
    subscription = c.subscriptions.get(name)
    if subscription is None:
        known = ", ".join(sorted(HANDLERS_BY_NAME))
        raise click.BadParameter(f"no handler named {name!r}; handlers: {known}", param_hint="NAME")
    if not subscription.enabled:
        raise click.ClickException(
            f"{name} is not enabled here ({subscription.disabled_reason}): its deliveries "
            "would do nothing. Configure it, restart the processes, then backfill."
        )
    spec = subscription.spec
    backfill = c.backfill(spec, batch_size=batch_size, rate=rate, dry_run=dry_run)
    after, total = backfill.plan(from_position=from_position, since=since)
    click.echo(
        f"{'dry run: ' if dry_run else ''}backfilling {name} from position {after + 1}: "
        f"{total:,} events of {len(spec.event_types)} type(s) to read"
    )
    report = _run_with_progress(backfill, after, total, name)
    _summarise(report)


def _run_with_progress(backfill: BackfillJob, after: int, total: int, name: str) -> BackfillReport:
    began = time.perf_counter()
    if sys.stdout.isatty():
        done = 0

        def rate(_item: object) -> str:
            elapsed = time.perf_counter() - began
            return f"{done / elapsed:,.0f} events/s" if elapsed > 0 else ""

        with click.progressbar(
            length=max(total, 1), label=f"{name:<20}", show_eta=True, item_show_func=rate
        ) as bar:

            def advance(events: int, _total: int) -> None:
                nonlocal done
                bar.update(events - done, events)
                done = events

            return backfill.run(after, total, advance)

    last = [began]

    def plain(events: int, known: int) -> None:
        now = time.perf_counter()
        if now - last[0] >= PLAIN_PROGRESS_SECONDS or events >= known:
            last[0] = now
            elapsed = now - began
            speed = events / elapsed if elapsed > 0 else 0.0
            click.echo(f"progress: {events:,}/{known:,} events ({speed:,.0f} events/s)")

    return backfill.run(after, total, plain)


def _summarise(report: BackfillReport) -> None:
    verb = "would add" if report.dry_run else "added"
    count = report.missing if report.dry_run else report.added
    click.echo(
        f"{report.handler}: read {report.scanned:,} events up to position "
        f"{report.end_position} in {report.seconds:.1f} s "
        f"({report.events_per_second:,.0f} events/s); {verb} {count:,} deliveries; "
        f"{report.gaps_filled} event(s) committed late found after the barrier"
    )
