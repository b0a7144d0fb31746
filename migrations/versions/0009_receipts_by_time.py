"""handler receipts indexed by (handler, applied_at)

Revision ID: 0009_receipts_by_time
Revises: 0008_idempotency_key_callers
Create Date: 2026-12-02 16:45:00

Receipts are kept for good (they are what makes a database handler apply once), so a
projection rebuild's catch-up, which asks for the receipts one handler wrote since the
rebuild began, scanned all of them; its last round runs inside the swap, while readers
wait. With this index it reads only the recent range.
"""

from alembic import op

revision = "0009_receipts_by_time"
down_revision = "0008_idempotency_key_callers"
branch_labels = None
depends_on = None

INDEX = "ix_handler_receipts_handler_applied_at"


def upgrade():
    op.create_index(INDEX, "handler_receipts", ["handler", "applied_at"])


def downgrade():
    op.drop_index(INDEX, table_name="handler_receipts")
