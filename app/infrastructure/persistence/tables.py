"""Table definitions. Migrations are generated from (and checked against) this metadata."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from app.application.ports import DeliveryStatus

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT ids autoincrement on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(JSONB(), "postgresql")
Timestamp = sa.DateTime(timezone=True)
NOT_DONE = sa.text(f"status <> '{DeliveryStatus.DONE}'")
"""The partial-index predicate; queries that should use those indexes repeat it literally."""
CLAIMABLE = sa.text(
    "status IN ({})".format(
        ", ".join(f"'{s}'" for s in DeliveryStatus if s in DeliveryStatus.unfinished())
    )
)
"""The claim index's predicate: what a relay may claim, never dead, skipped or held rows.
``delivery_states.UNFINISHED`` spells the same list, so the planner matches it."""

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_key", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("loyalty_points", sa.BigInteger, nullable=False),
    sa.Column("loyalty_awards", Json, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False, server_default="EUR"),
)

order_items = sa.Table(
    "order_items",
    metadata,
    sa.Column("order_id", sa.String(36), sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("sku", sa.String(64), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price_cents", sa.BigInteger, nullable=False),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("position", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False, unique=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("aggregate_type", sa.String(50), nullable=False),
    sa.Column("aggregate_id", sa.String(36), nullable=False),
    sa.Column("aggregate_version", sa.Integer, nullable=False),
    sa.Column("payload", Json, nullable=False),
    sa.Column("correlation_id", sa.String(64), nullable=False, index=True),
    sa.Column("causation_id", sa.String(64), nullable=False),
    sa.Column("occurred_at", Timestamp, nullable=False),
    # A second writer of the same aggregate version loses here: optimistic concurrency.
    sa.UniqueConstraint("aggregate_id", "aggregate_version", name="uq_events_aggregate_version"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), sa.ForeignKey("events.event_id"), nullable=False),
    sa.Column("handler", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("dispatch_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("available_at", Timestamp, nullable=False),
    sa.Column("lease_until", Timestamp, nullable=True),
    sa.Column("claimed_by", sa.String(64), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("dispatched_at", Timestamp, nullable=True),
    sa.Column("done_at", Timestamp, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    # Ordered handlers only (null otherwise): the key whose deliveries go one at a time,
    # and the event's position in the store, their order within the key.
    sa.Column("order_key", sa.String(200), nullable=True),
    sa.Column("order_seq", sa.BigInteger, nullable=True),
    sa.UniqueConstraint("event_id", "handler", name="uq_outbox_event_handler"),
    # Partial indexes over the rows not yet done: what the relay claims and what the
    # stats count stay as cheap with millions of done rows as with none.
    sa.Index(
        "ix_outbox_unfinished",
        "id",
        postgresql_where=NOT_DONE,
        sqlite_where=NOT_DONE,
    ),
    sa.Index(
        "ix_outbox_unfinished_by_handler",
        "handler",
        "status",
        "created_at",
        "dispatched_at",
        postgresql_where=NOT_DONE,
        sqlite_where=NOT_DONE,
    ),
    # What a relay may claim, in claim order: dead, skipped and held rows, which pile up
    # with history and wait for an operator, are not in it (migration 0015).
    sa.Index(
        "ix_outbox_claimable",
        "id",
        postgresql_where=CLAIMABLE,
        sqlite_where=CLAIMABLE,
    ),
    # An ordered key's open rows in order: what holds a delivery back, what is next.
    sa.Index(
        "ix_outbox_ordered_open",
        "handler",
        "order_key",
        "order_seq",
        postgresql_where=NOT_DONE,
        sqlite_where=NOT_DONE,
    ),
)

broker_canaries = sa.Table(
    "broker_canaries",
    metadata,
    # Which brokers the relay has put a canary in: a missing canary then means the broker
    # lost its queues, not that it is new.
    sa.Column("broker", sa.String(64), primary_key=True),
    sa.Column("placed_at", Timestamp, nullable=False),
)

relay_heartbeats = sa.Table(
    "relay_heartbeats",
    metadata,
    # When each host's following relay last went round its loop: /readyz and /metrics
    # show the freshest, so a deployment whose relay died is seen at once.
    sa.Column("host", sa.String(255), primary_key=True),
    sa.Column("beat_at", Timestamp, nullable=False),
)

outbox_done_counts = sa.Table(
    "outbox_done_counts",
    metadata,
    # How many done rows the outbox holds per handler, kept in step by the statements
    # that mark a row done and that purge done rows. Sharded so that concurrent
    # deliveries of one handler rarely wait for the same counter row.
    sa.Column("handler", sa.String(100), primary_key=True),
    sa.Column("shard", sa.SmallInteger, primary_key=True),
    sa.Column("done", sa.BigInteger, nullable=False),
)

handler_receipts = sa.Table(
    "handler_receipts",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("handler", sa.String(100), primary_key=True),
    sa.Column("applied_at", Timestamp, nullable=False),
    # A projection rebuild catches up (and swaps, holding off readers) by the receipts
    # applied since it began: a range of this index rather than a scan of every receipt
    # ever kept.
    sa.Index("ix_handler_receipts_handler_applied_at", "handler", "applied_at"),
)

order_summaries = sa.Table(
    "order_summaries",
    metadata,
    sa.Column("order_id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("total_cents", sa.BigInteger, nullable=False),
    sa.Column("items", Json, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False, server_default="EUR"),
)

user_profiles = sa.Table(
    "user_profiles",
    metadata,
    sa.Column("user_id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("loyalty_points", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    # Keys are scoped to the caller: a digest of its bearer token (app.api.auth.caller).
    sa.Column("caller", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    # in_flight while the first request runs (``claim`` names it), then done.
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("claim", sa.String(36), nullable=True),
    sa.Column("claimed_at", Timestamp, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("response", Json, nullable=True),
    sa.Column("event_position", sa.BigInteger, nullable=True),
    sa.Column("expires_at", Timestamp, nullable=False, index=True),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    # Null when the message was too broken to name its delivery or event.
    sa.Column("delivery_id", sa.BigInteger, nullable=True, index=True),
    sa.Column("event_id", sa.String(36), nullable=True),
    sa.Column("event_type", sa.String(100), nullable=True),
    sa.Column("handler", sa.String(100), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("exception_type", sa.String(200), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("traceback", sa.Text, nullable=False),
    sa.Column("body", Json, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("redriven_at", Timestamp, nullable=True),
    # An operator skipped it (never delivered; its ordered key released): when and who.
    sa.Column("skipped_at", Timestamp, nullable=True),
    sa.Column("skipped_by", sa.String(200), nullable=True),
    sa.Index("ix_dead_letters_status_created", "status", "created_at"),
)

purged_dead_deliveries = sa.Table(
    "purged_dead_deliveries",
    metadata,
    # What an operator's dead-letter purge deleted from the outbox, kept so an event's
    # deliveries and traces still say what became of it (the event itself is kept forever).
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("handler", sa.String(100), primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("purged_at", Timestamp, nullable=False),
)

ops_sessions = sa.Table(
    "ops_sessions",
    metadata,
    # One row per live ops-page sign-in, so that signing out on one web process ends the
    # session on all of them. Named by the SHA-256 of the id its cookie holds, never the id.
    sa.Column("id_digest", sa.String(64), primary_key=True),
    sa.Column("issued_at", Timestamp, nullable=False),
)

BACKFILL_ACTIVE = sa.text("state IN ('queued', 'running')")
"""A backfill run still to finish: at most one per handler (``uq_backfill_runs_active``)."""

backfill_runs = sa.Table(
    "backfill_runs",
    metadata,
    # One row per backfill started over HTTP or from the ops page: what was asked, and the
    # progress the task writes after each batch (``backfill_runs.py`` owns its states).
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("handler", sa.String(100), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("requested_by", sa.String(100), nullable=False),
    sa.Column("from_position", sa.BigInteger, nullable=True),
    sa.Column("since", Timestamp, nullable=True),
    sa.Column("batch_size", sa.Integer, nullable=False),
    sa.Column("rate", sa.Float, nullable=True),
    sa.Column("owner", sa.String(200), nullable=True),
    sa.Column("start_position", sa.BigInteger, nullable=True),
    sa.Column("position", sa.BigInteger, nullable=True),
    sa.Column("head_position", sa.BigInteger, nullable=True),
    sa.Column("events_total", sa.BigInteger, nullable=True),
    sa.Column("events_scanned", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("deliveries_added", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("gaps_filled", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("queued_at", Timestamp, nullable=False),
    sa.Column("started_at", Timestamp, nullable=True),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("finished_at", Timestamp, nullable=True),
    sa.Index("ix_backfill_runs_handler", "handler", "id"),
    # A second start while one is queued or running loses here, whichever process asks.
    sa.Index(
        "uq_backfill_runs_active",
        "handler",
        unique=True,
        postgresql_where=BACKFILL_ACTIVE,
        sqlite_where=BACKFILL_ACTIVE,
    ),
)
