"""Contact details for notifications, read from the write side (always current)."""

import sqlalchemy as sa

from app.infrastructure.persistence.database import single_statement
from app.infrastructure.persistence.tables import users


class SqlUserDirectory:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = single_statement(engine)

    def contact(self, user_id: str) -> tuple[str, str] | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(users.c.email, users.c.name).where(users.c.id == user_id)
            ).first()
        return None if row is None else (row.email, row.name)
