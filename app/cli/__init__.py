"""``flask`` commands for operators: outbox, handlers, dead-letters, projections, events."""

from flask import Flask


def register_cli(app: Flask) -> None:
    from app.cli.backfill import backfill_command
    from app.cli.dead_letters import dead_letters_cli
    from app.cli.handlers import handlers_cli
    from app.cli.operations import aggregates_cli, events_cli, outbox_cli, projections_cli

    for group in (
        outbox_cli,
        handlers_cli,
        dead_letters_cli,
        projections_cli,
        events_cli,
        aggregates_cli,
    ):
        app.cli.add_command(group)
    handlers_cli.add_command(backfill_command)
