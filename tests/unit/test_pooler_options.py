"""Behind a transaction pooler: no prepared statements, and LISTEN goes around it."""

import sqlalchemy as sa

from app.infrastructure.persistence.database import engine_options, session_engine

URL = "postgresql+psycopg://postgres@127.0.0.1:6432/outboxflow"
DIRECT = "postgresql+psycopg://postgres@127.0.0.1:5432/outboxflow"


def test_pooled_connections_prepare_no_statements() -> None:
    assert "connect_args" not in engine_options(URL)
    assert engine_options(URL, behind_pooler=True)["connect_args"] == {"prepare_threshold": None}


def test_listening_uses_the_direct_url_only_when_there_is_one() -> None:
    engine = sa.create_engine(URL)
    assert session_engine("", engine) is engine
    direct = session_engine(DIRECT, engine)
    assert direct is not engine
    assert direct.url.port == 5432
    direct.dispose()
    engine.dispose()
