"""``flask handlers`` commands: the event handlers as this process's settings run them."""

import json

import click
from flask.cli import AppGroup

from app.cli.handler_table import render
from app.container import container_of

handlers_cli = AppGroup("handlers", help="Inspect the event handlers.")


@handlers_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print what GET /api/handlers answers.")
def handlers_list(as_json: bool) -> None:
    """Every handler: its event types, enabled or why not, ordered or not, queue, backlog.

    Enabled follows this process's settings (a handler may require one, such as
    WEBHOOK_URLS): run it with the environment the web and worker processes have.
    """
    c = container_of()
    handlers = c.outbox_reader.handlers(c.subscriptions)
    if as_json:
        click.echo(json.dumps({"handlers": handlers}, indent=2))
    else:
        click.echo(render(handlers))
