"""The delivery ledger: the outbox rows a worker touches outside the handler's transaction."""

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app.application.errors import StoreUnavailable
from app.application.ports import Attempt, DeadLetter
from app.infrastructure.persistence import attempts, dead_letters, ordering
from app.infrastructure.persistence.database import single_statement
from app.infrastructure.persistence.receipts import already_applied

log = logging.getLogger(__name__)

DeadLetterCopy = Callable[[str | None, Any, str], None]


class SqlDeliveryLedger:
    """Each write is one statement committed on its own.

    On PostgreSQL the statements run in autocommit mode: one round trip each, no
    BEGIN/COMMIT around them. SQLite keeps a short transaction (its writers must take
    the write lock up front).
    """

    def __init__(self, engine: sa.Engine, copy_dead_letter: DeadLetterCopy) -> None:
        self._engine = engine
        self._single = single_statement(engine)
        self._copy_dead_letter = copy_dead_letter

    def start_attempt(
        self, delivery_id: int, handler: str, event_id: str, *, lease: timedelta
    ) -> Attempt | None:
        try:
            with self._single.begin() as conn:
                return attempts.start(conn, delivery_id, handler, event_id, lease=lease)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(f"could not count the attempt: {exc}") from exc

    def applied_before(self, event_id: str, handler: str) -> bool:
        with self._single.connect() as conn:
            return already_applied(conn, event_id, handler)

    def finish(self, delivery_id: int, *, receipt: tuple[str, str] | None = None) -> None:
        try:
            with self._single.begin() as conn:
                attempts.finish(conn, delivery_id, receipt)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(f"could not mark the delivery done: {exc}") from exc

    def release_next(self, delivery_id: int) -> None:
        try:
            with self._single.begin() as conn:
                ordering.release_next(conn, delivery_id)
        except sa.exc.SQLAlchemyError:
            # The relay's repair releases it within a second or so: nothing is lost.
            log.warning("could not release the delivery after %s", delivery_id, exc_info=True)

    def hold(self, delivery_id: int) -> None:
        try:
            with self._engine.begin() as conn:
                ordering.hold(conn, delivery_id)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(f"could not hold the delivery back: {exc}") from exc

    def schedule_retry(self, delivery_id: int, *, error: str, lease: timedelta) -> None:
        try:
            with self._single.begin() as conn:
                attempts.schedule_retry(conn, delivery_id, error=error, lease=lease)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(f"could not record the failure: {exc}") from exc

    def dead_letter(self, dead: DeadLetter) -> int:
        """The database record is the source of truth; the queue copy is for operators."""
        body = _jsonable(dead.body)
        envelope = body.get("envelope") if isinstance(body, dict) else None
        event = envelope if isinstance(envelope, dict) else {}
        event_id, event_type = event.get("event_id"), event.get("event_type")
        with self._engine.begin() as conn:
            dead_letter_id = dead_letters.record(
                conn,
                exc=dead.error,
                attempts=dead.attempts,
                delivery_id=dead.delivery_id,
                handler=dead.handler,
                body=body,
                event_id=event_id if isinstance(event_id, str) else None,
                event_type=event_type if isinstance(event_type, str) else None,
            )
        self._copy_dead_letter(dead.handler, body, f"{type(dead.error).__name__}: {dead.error}")
        return dead_letter_id


def _jsonable(value: Any) -> Any:
    """Keep what JSON can hold; describe the rest, so a broken body can still be stored."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return repr(value)[:2000]
