"""Dead letters made the real way, for tests of the operator commands and endpoints.

A webhook receiver answering 400 and a Slack endpoint answering 503 (with one attempt
allowed) dead-letter three deliveries of two commands through the eager app: two
``forward_to_webhooks`` (permanent) and one ``notify_sales_channel`` (transient).
``dead_letters_made`` yields the ``Graveyard``: the app, the receiver and the ids.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from click.testing import Result
from flask import Flask

from app.infrastructure.persistence.tables import dead_letters, events, outbox
from tests.support.db_state import table_rows
from tests.support.http_receiver import Answer, HttpReceiver, Request, http_receiver
from tests.support.inprocess import Api, AppFactory, container

WEBHOOK = ("forward_to_webhooks", "user.registered")
ORDER_WEBHOOK = ("forward_to_webhooks", "order.created")
SALES = ("notify_sales_channel", "order.created")


@dataclass
class Switchboard:
    """A receiver on 127.0.0.1 whose answer per path can be changed while it runs."""

    http: HttpReceiver
    status: dict[str, int]

    def url(self, path: str) -> str:
        return self.http.url(path)

    @property
    def received(self) -> list[str]:
        """The paths of the requests so far, in arrival order."""
        return [request.path for request in self.http.requests]

    def answer(self, request: Request) -> Answer:
        return Answer(self.status.get(request.path, 200))


@contextmanager
def switchboard(**status: int) -> Iterator[Switchboard]:
    with http_receiver() as http:
        board = Switchboard(http, {f"/{path}": code for path, code in status.items()})
        http.respond = board.answer
        yield board


@dataclass
class Graveyard:
    app: Flask
    receiver: Switchboard
    ids: dict[tuple[str, str], int]
    """Dead-letter id by (handler, event type)."""

    def cli(self, *args: str, input: str | None = None) -> Result:
        return self.app.test_cli_runner().invoke(args=["dead-letters", *args], input=input)

    def dead_letter(self, key: tuple[str, str]) -> dict[str, Any]:
        with container(self.app).engine.connect() as conn:
            query = sa.select(dead_letters).where(dead_letters.c.id == self.ids[key])
            return dict(conn.execute(query).mappings().one())

    def delivery(self, key: tuple[str, str]) -> dict[str, Any]:
        delivery_id = self.dead_letter(key)["delivery_id"]
        with container(self.app).engine.connect() as conn:
            query = sa.select(outbox).where(outbox.c.id == delivery_id)
            return dict(conn.execute(query).mappings().one())

    def age(self, key: tuple[str, str], by: timedelta) -> None:
        with container(self.app).engine.begin() as conn:
            conn.execute(
                dead_letters.update()
                .where(dead_letters.c.id == self.ids[key])
                .values(created_at=datetime.now(UTC) - by)
            )

    def snapshot(self) -> tuple[list[dict[str, Any]], ...]:
        engine = container(self.app).engine
        return tuple(table_rows(engine, t) for t in (dead_letters, outbox, events))


def build_graveyard(make_app: AppFactory, receiver: Switchboard, **env: str) -> Graveyard:
    app = make_app(
        WEBHOOK_URLS=receiver.url("/hook"),
        WEBHOOK_SECRET="s",
        SLACK_WEBHOOK_URL=receiver.url("/slack"),
        OUTBOX_MAX_ATTEMPTS="1",
        **env,
    )
    client = app.test_client()
    headers = {"Authorization": f"Bearer {env['ADMIN_TOKEN']}"} if "ADMIN_TOKEN" in env else {}
    api = Api(client)
    user = api.register()
    api.create_order(user["user_id"])
    with container(app).engine.connect() as conn:
        rows = conn.execute(
            sa.select(dead_letters.c.id, dead_letters.c.handler, dead_letters.c.event_type)
        )
        ids = {(r.handler, r.event_type): r.id for r in rows}
    assert set(ids) == {WEBHOOK, ORDER_WEBHOOK, SALES}, ids
    assert client.get("/api/dead-letters", headers=headers).status_code == 200
    return Graveyard(app, receiver, ids)


@contextmanager
def dead_letters_made(make_app: AppFactory, **env: str) -> Iterator[Graveyard]:
    """The graveyard behind a switchboard answering 400 on ``/hook`` and 503 on ``/slack``."""
    with switchboard(hook=400, slack=503) as receiver:
        yield build_graveyard(make_app, receiver, **env)
