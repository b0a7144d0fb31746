"""Write-side repositories: aggregate state rows with optimistic version checks.

``SqlUserDirectory`` reads contact details from the same user rows, outside any unit of
work, so notifications always see the current address; ``SqlOrderDirectory`` reads an
order's currency from its row the same way.
"""

import sqlalchemy as sa

from app.domain.errors import ConcurrencyConflict, EmailTaken
from app.domain.events import LineItem
from app.domain.models import Order, OrderStatus, User, normalize_email
from app.domain.models.aggregate import Aggregate
from app.domain.money import from_cents, to_cents
from app.infrastructure.persistence.database import single_statement
from app.infrastructure.persistence.event_store import SqlEventStreams
from app.infrastructure.persistence.tables import order_items, orders, users


class _Tracking:
    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self.seen: list[Aggregate] = []

    def _track(self, aggregate: Aggregate) -> None:
        if aggregate not in self.seen:
            self.seen.append(aggregate)

    def _bump_version(self, table: sa.Table, aggregate: Aggregate, **values: object) -> None:
        result = self._conn.execute(
            table.update()
            .where(table.c.id == aggregate.id, table.c.version == aggregate.loaded_version)
            .values(version=aggregate.version, **values)
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict(
                f"{table.name[:-1]} {aggregate.id} was changed by another request; retry"
            )


class SqlUserRepository(_Tracking):
    def add(self, user: User) -> None:
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    users.insert().values(
                        id=user.id,
                        email=user.email,
                        email_key=normalize_email(user.email),
                        name=user.name,
                        loyalty_points=user.loyalty_points,
                        loyalty_awards=user.loyalty_awards,
                        version=user.version,
                    )
                )
        except sa.exc.IntegrityError:
            raise EmailTaken("this email address is already registered") from None
        self._track(user)

    def get(self, user_id: str) -> User | None:
        return self._load(users.c.id == user_id)

    def exists(self, user_id: str) -> bool:
        found = self._conn.execute(sa.select(sa.literal(1)).where(users.c.id == user_id))
        return found.first() is not None

    def get_by_email(self, email: str) -> User | None:
        return self._load(users.c.email_key == normalize_email(email))

    def _load(self, condition: sa.ColumnElement[bool]) -> User | None:
        row = self._conn.execute(sa.select(users).where(condition)).mappings().first()
        if row is None:
            return None
        return User(
            row["id"],
            row["email"],
            row["name"],
            loyalty_points=row["loyalty_points"],
            loyalty_awards=row["loyalty_awards"],
            version=row["version"],
        )

    def save(self, user: User) -> None:
        if user.version == user.loaded_version:
            return
        self._bump_version(
            users, user, loyalty_points=user.loyalty_points, loyalty_awards=user.loyalty_awards
        )
        self._track(user)


class SqlOrderRepository(_Tracking):
    def add(self, order: Order) -> None:
        self._conn.execute(
            orders.insert().values(
                id=order.id,
                user_id=order.user_id,
                status=order.status,
                version=order.version,
                currency=order.currency,
            )
        )
        self._conn.execute(
            order_items.insert(),
            [
                {
                    "order_id": order.id,
                    "line_no": n,
                    "sku": item.sku,
                    "quantity": item.quantity,
                    "unit_price_cents": to_cents(item.unit_price),
                }
                for n, item in enumerate(order.items, start=1)
            ],
        )
        self._track(order)

    def get(self, order_id: str) -> Order | None:
        row = self._conn.execute(sa.select(orders).where(orders.c.id == order_id)).first()
        if row is None:
            return None
        items = tuple(
            LineItem(sku=i.sku, quantity=i.quantity, unit_price=from_cents(i.unit_price_cents))
            for i in self._conn.execute(
                sa.select(order_items)
                .where(order_items.c.order_id == order_id)
                .order_by(order_items.c.line_no)
            )
        )
        return Order(
            row.id,
            row.user_id,
            items,
            OrderStatus(row.status),
            version=row.version,
            currency=row.currency,
        )

    def save(self, order: Order) -> None:
        if order.version == order.loaded_version:
            return
        self._bump_version(orders, order, status=order.status)
        self._track(order)


class EventSourcedOrderRepository(SqlOrderRepository):
    """Loads an order by folding its events (ORDER_STORE=events); writes like the state store.

    The state rows are still written, so ``flask aggregates verify`` can compare the two
    and the store can be switched back; the event store's unique (aggregate, version)
    remains the guard against two writers.
    """

    def __init__(self, conn: sa.Connection, streams: SqlEventStreams) -> None:
        super().__init__(conn)
        self._streams = streams

    def get(self, order_id: str) -> Order | None:
        return Order.from_events(self._streams.load_stream(order_id))


class SqlUserDirectory:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = single_statement(engine)

    def contact(self, user_id: str) -> tuple[str, str] | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(users.c.email, users.c.name).where(users.c.id == user_id)
            ).first()
        return None if row is None else (row.email, row.name)


class SqlOrderDirectory:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = single_statement(engine)

    def currency(self, order_id: str) -> str | None:
        with self._engine.connect() as conn:
            found: str | None = conn.execute(
                sa.select(orders.c.currency).where(orders.c.id == order_id)
            ).scalar_one_or_none()
        return found
