"""Does every order's stored state equal the fold of its events? (``flask aggregates verify``)"""

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from app.application.errors import UnprocessableMessage
from app.application.maintenance import VerifyReport
from app.domain.models import Order
from app.infrastructure.persistence.database import read_only
from app.infrastructure.persistence.event_store import SqlEventStreams
from app.infrastructure.persistence.repositories import SqlOrderRepository
from app.infrastructure.persistence.tables import orders

COMPARED = ("user_id", "items", "status", "version", "currency")


def _state(order: Order | None) -> dict[str, Any] | None:
    if order is None:
        return None
    return {name: getattr(order, name) for name in COMPARED} | {"status": str(order.status)}


def _differences(order_id: str, folded: Order | None, stored: Order | None) -> Iterator[str]:
    if folded is None:
        yield f"order {order_id}: has state but no order.created event"
        return
    if stored is None:
        yield f"order {order_id}: has events but no state row"
        return
    want, have = _state(folded), _state(stored)
    assert want is not None and have is not None
    for name in COMPARED:
        if want[name] != have[name]:
            yield f"order {order_id}: {name} is {have[name]!r}, its events say {want[name]!r}"


def verify_orders(engine: sa.Engine) -> VerifyReport:
    report = VerifyReport()
    with read_only(engine).connect() as conn:
        streams, state = SqlEventStreams(conn), SqlOrderRepository(conn)
        ids = set(streams.aggregate_ids("order")) | set(
            conn.execute(sa.select(orders.c.id)).scalars()
        )
        for order_id in sorted(ids):
            report.checked += 1
            try:
                folded = Order.from_events(streams.load_stream(order_id))
            except UnprocessableMessage as exc:
                found = [f"order {order_id}: its events do not decode: {exc}"]
            else:
                found = list(_differences(order_id, folded, state.get(order_id)))
            report.mismatched += bool(found)
            report.mismatches.extend(found)
    return report
