"""Unit-test fixtures: an in-memory database and recording outbound fakes. No I/O."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from app.application import command_handlers
from app.application.messages import MessageContext
from app.domain.commands import Command, CreateOrder, RegisterUser
from app.domain.events import LineItem
from app.domain.events.base import new_id
from app.domain.models import Order, User
from tests.fakes import FakeDatabase, FakeOutbound, FakeUnitOfWork

Run = Callable[..., Any]


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()


@pytest.fixture
def out(db: FakeDatabase) -> FakeOutbound:
    return FakeOutbound.over(db)


@pytest.fixture
def run(db: FakeDatabase) -> Run:
    """Execute one command in its own committed unit of work, as a request does."""

    def _run(command: Command, context: MessageContext | None = None) -> Any:
        return command_handlers.execute(
            command, FakeUnitOfWork(db), context or MessageContext.root(new_id())
        )

    return _run


@pytest.fixture
def user(run: Run) -> User:
    return run(RegisterUser(user_id=new_id(), email="Ada@Example.com", name="Ada"))


@pytest.fixture
def order(run: Run, user: User) -> Order:
    items = (LineItem("book", 2, Decimal("12.50")), LineItem("pen", 3, Decimal("1.99")))
    return run(CreateOrder(order_id=new_id(), user_id=user.id, items=items))
