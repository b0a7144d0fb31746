"""``flask dead-letters list|show|retry|skip|purge``: inspect, re-drive or give up for good."""

import getpass
import json
import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import click
from flask.cli import AppGroup

from app.api.filters import parse_since
from app.application import skipping
from app.application.dead_letters import MAX_ID, DeadLetterFilter
from app.container import container_of

dead_letters_cli = AppGroup("dead-letters", help="Inspect, re-drive, skip and purge dead letters.")


if TYPE_CHECKING:
    # click is generic in the value it converts to from 8.4 on; flask allows older ones.
    _DatetimeParamType = click.ParamType[datetime]
else:
    _DatetimeParamType = click.ParamType

Command = TypeVar("Command", bound=Callable[..., object])


class SinceType(_DatetimeParamType):
    name = "since"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_since(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def filter_options(command: Command) -> Command:
    for option in reversed(
        (
            click.option("--handler", help="Only this handler (e.g. forward_to_webhooks)."),
            click.option("--event-type", help="Only this event type (e.g. order.created)."),
            click.option("--error", help="Text contained in the error type or message."),
            click.option("--since", type=SinceType(), help="ISO time or look-back: 30m, 2h, 7d."),
        )
    ):
        command = option(command)
    return command


def _filter(
    handler: str | None,
    event_type: str | None,
    error: str | None,
    since: datetime | None,
    include_redriven: bool = False,
) -> DeadLetterFilter:
    return DeadLetterFilter(handler, event_type, error, since, include_redriven)


@dead_letters_cli.command("list")
@filter_options
@click.option("--all", "include_redriven", is_flag=True, help="Include re-driven and skipped ones.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_command(
    handler: str | None,
    event_type: str | None,
    error: str | None,
    since: datetime | None,
    include_redriven: bool,
    limit: int,
    as_json: bool,
) -> None:
    """List dead letters, oldest first."""
    where = _filter(handler, event_type, error, since, include_redriven)
    items = container_of().dead_letters.search(where, limit=limit)
    for item in items:
        if as_json:
            item.pop("traceback", None)
            click.echo(json.dumps(item, default=str))
        else:
            click.echo(
                f"#{item['id']:<6} {item['status']:<9} {item['created_at']} "
                f"{item['handler'] or '-'} {item['event_type'] or '-'} "
                f"attempts={item['attempts']} {item['exception_type']}: {item['message'][:120]}"
            )
    if not as_json:
        click.echo(f"{len(items)} dead letter(s)", err=True)


@dead_letters_cli.command("show")
@click.argument("dead_letter_id", type=click.IntRange(1, MAX_ID))
def show_command(dead_letter_id: int) -> None:
    """Everything about one dead letter, traceback included."""
    item = container_of().dead_letters.get(dead_letter_id)
    if item is None:
        raise click.ClickException(f"dead letter {dead_letter_id} does not exist")
    traceback = item.pop("traceback")
    click.echo(json.dumps(item, indent=2, default=str))
    click.echo(traceback)


@dead_letters_cli.command("retry")
@click.argument("ids", nargs=-1, type=click.IntRange(1, MAX_ID))
@click.option("--all", "retry_all", is_flag=True, help="Every dead letter matching the filters.")
@filter_options
@click.option("--dry-run", is_flag=True, help="Show what would be re-driven, change nothing.")
def retry_command(
    ids: tuple[int, ...],
    retry_all: bool,
    handler: str | None,
    event_type: str | None,
    error: str | None,
    since: datetime | None,
    dry_run: bool,
) -> None:
    """Re-drive dead letters: their deliveries go back to pending with fresh attempts."""
    store = container_of().dead_letters
    if bool(ids) == retry_all:
        raise click.UsageError("give dead-letter ids, or --all (with optional filters)")
    if retry_all:
        selected = store.matching(_filter(handler, event_type, error, since))
    else:
        selected = list(ids)
    if dry_run:
        click.echo(f"would re-drive {len(selected)}: {', '.join(map(str, selected)) or '-'}")
        return
    retried = store.redrive(selected)
    left = sorted(set(selected) - set(retried))
    click.echo(f"re-drove {len(retried)} dead letter(s)")
    if left:
        click.echo(
            f"not re-driven (unknown, already re-driven or skipped, or without a delivery): {left}",
            err=True,
        )


@dead_letters_cli.command("skip")
@click.argument("ids", nargs=-1, required=True, type=click.IntRange(1, MAX_ID))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def skip_command(ids: tuple[int, ...], yes: bool) -> None:
    """Give dead letters up for good: their deliveries never run, and an ordered handler's
    deliveries parked behind them go on. Exits 1 if any could not be skipped."""
    wanted = list(dict.fromkeys(ids))
    if not yes:
        click.confirm(
            f"skip {len(wanted)} dead letter(s) for good (their deliveries never run)?",
            abort=True,
        )
    by = f"cli:{_login_name()}"
    outcome = skipping.skip(container_of().dead_letters, wanted, by=by)
    listed = ", ".join(map(str, outcome.skipped)) or "-"
    click.echo(f"skipped {len(outcome.skipped)} dead letter(s) as {by}: {listed}")
    for refused in outcome.refused:
        click.echo(f"not skipped: {refused.reason}", err=True)
    if outcome.refused:
        raise click.exceptions.Exit(1)


def _login_name() -> str:
    """Who runs the command, as the operating system names them (their uid if it cannot)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid-{os.getuid()}"


@dead_letters_cli.command("purge")
@filter_options
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def purge_command(
    handler: str | None,
    event_type: str | None,
    error: str | None,
    since: datetime | None,
    yes: bool,
) -> None:
    """Delete matching dead letters (and their dead deliveries) for good."""
    store = container_of().dead_letters
    where = _filter(handler, event_type, error, since)
    count = len(store.matching(where))
    if count == 0:
        click.echo("nothing to purge")
        return
    if not yes:
        click.confirm(f"permanently delete {count} dead letter(s)?", abort=True)
    click.echo(f"purged {store.purge(where)} dead letter(s)")
