"""idempotency keys are scoped to the caller: the primary key becomes (caller, key)

Revision ID: 0008_idempotency_key_callers
Revises: 0007_projection_checkpoints
Create Date: 2026-12-03 09:00:00

``caller`` is a digest of the bearer token that authenticated the request, or
``anonymous`` when its endpoint needed none. Keys stored before this revision were made
without knowing the caller: they join the anonymous scope, so a deployment without
API_TOKENS replays them as before, and one with tokens lets them expire unused.
Downgrading keeps only the anonymous keys (two callers may hold the same key).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_idempotency_key_callers"
down_revision = "0007_projection_checkpoints"
branch_labels = None
depends_on = None

ANONYMOUS = "anonymous"
PRIMARY_KEY = "pk_idempotency_keys"


def upgrade():
    op.add_column(
        "idempotency_keys",
        sa.Column("caller", sa.String(length=64), nullable=False, server_default=ANONYMOUS),
    )
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.alter_column("caller", server_default=None)
        batch_op.drop_constraint(PRIMARY_KEY, type_="primary")
        batch_op.create_primary_key(PRIMARY_KEY, ["caller", "key"])


def downgrade():
    keys = sa.table("idempotency_keys", sa.column("caller"))
    op.execute(keys.delete().where(keys.c.caller != ANONYMOUS))
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.drop_constraint(PRIMARY_KEY, type_="primary")
        batch_op.drop_column("caller")
        batch_op.create_primary_key(PRIMARY_KEY, ["key"])
