"""events are append-only: UPDATE and DELETE (and TRUNCATE on PostgreSQL) are refused

Revision ID: 0004_events_append_only
Revises: 0003
Create Date: 2026-12-02 04:50:00

The triggers are the database's own guard, so no code path (nor a hand-typed statement)
can rewrite history. Repairing a stored event is a deliberate operator act: disable the
trigger in the repairing transaction (PostgreSQL: ALTER TABLE events DISABLE TRIGGER
USER ... ENABLE TRIGGER USER; SQLite: drop and recreate the two triggers).
"""

from alembic import op

revision = "0004_events_append_only"
down_revision = "0003"
branch_labels = None
depends_on = None

MESSAGE = "the event store is append-only"

POSTGRES_UPGRADE = (
    f"""
    CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}: % on events is refused', TG_OP
            USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change()
    """,
    """
    CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change()
    """,
)
POSTGRES_DOWNGRADE = (
    "DROP TRIGGER events_no_truncate ON events",
    "DROP TRIGGER events_append_only ON events",
    "DROP FUNCTION events_refuse_change()",
)
SQLITE_UPGRADE = tuple(
    f"""
    CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}: {verb} on events is refused'); END
    """
    for verb in ("UPDATE", "DELETE")
)
SQLITE_DOWNGRADE = ("DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete")


def _run(statements):
    for statement in statements:
        op.execute(statement)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _run(POSTGRES_UPGRADE)
    else:
        _run(SQLITE_UPGRADE)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _run(POSTGRES_DOWNGRADE)
    else:
        _run(SQLITE_DOWNGRADE)
