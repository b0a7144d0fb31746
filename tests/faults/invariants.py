"""After a fault scenario: prove nothing was lost, nothing applied twice, projections exact.

``check_invariants`` reads only the database (and the maildir / webhook receiver for
external effects) and returns the figures the scenario prints and asserts on.
"""

import mailbox
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from app.application.errors import UnprocessableMessage
from app.application.event_handlers.projections import fold_order_summary, fold_user_profile
from app.application.event_handlers.registry import HANDLERS_BY_NAME
from app.domain.events import DomainEvent
from app.infrastructure.persistence.database import read_only
from app.infrastructure.persistence.event_store import SqlEventStreams
from app.infrastructure.persistence.read_models import SqlReadModelQueries
from app.infrastructure.persistence.tables import (
    dead_letters,
    events,
    handler_receipts,
    outbox,
    user_profiles,
    users,
)
from tests.faults.receiver import WebhookReceiver

EMAIL_HANDLERS = frozenset(name for name in HANDLERS_BY_NAME if name.startswith("send_"))


@dataclass
class Figures:
    events: int = 0
    deliveries: int = 0
    done: int = 0
    dead: int = 0
    parked: int = 0
    """Ordered deliveries held behind a dead one of their key: waiting for an operator."""
    lost: int = 0
    dead_letters: int = 0
    projection_mismatches: list[str] = field(default_factory=list)
    duplicate_effects: int = 0
    missing_external: int = 0
    duplicate_external: int = 0
    missing_keys: list[str] = field(default_factory=list)

    def line(self, **extra: object) -> str:
        parts = {
            "events": self.events,
            "deliveries": self.deliveries,
            "done": self.done,
            "dead": self.dead,
            "parked": self.parked,
            "lost": self.lost,
            "dead_letters": self.dead_letters,
            "projection_mismatches": len(self.projection_mismatches),
            "duplicate_effects": self.duplicate_effects,
            "missing_external": self.missing_external,
            "duplicate_external_same_key": self.duplicate_external,
            **extra,
        }
        return "FAULT FIGURES " + " ".join(f"{k}={v}" for k, v in parts.items())


def _maildir_keys(maildir: Path) -> Counter[str]:
    keys: Counter[str] = Counter()
    if not maildir.exists():
        return keys
    for message in mailbox.Maildir(maildir, factory=None, create=False):
        keys["".join(str(message["X-Idempotency-Key"]).split())] += 1
    return keys


def check_invariants(
    engine: sa.Engine, *, maildir: Path | None = None, receiver: WebhookReceiver | None = None
) -> Figures:
    f = Figures()
    engine = read_only(engine)
    with engine.connect() as conn:
        f.events = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
        statuses: dict[str, int] = dict(
            conn.execute(
                sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status)
            ).all()
        )
        f.deliveries = sum(statuses.values())
        f.done, f.dead = statuses.get("done", 0), statuses.get("dead", 0)
        f.parked = statuses.get("parked", 0)
        f.lost = f.deliveries - f.done - f.dead - f.parked - statuses.get("skipped", 0)
        f.dead_letters = conn.execute(
            sa.select(sa.func.count())
            .select_from(dead_letters)
            .where(dead_letters.c.status == "dead")
        ).scalar_one()

        streams = SqlEventStreams(conn)
        queries = SqlReadModelQueries(engine)
        for order_id in streams.aggregate_ids("order"):
            expected = fold_order_summary(_stream_or_nothing(streams, order_id))
            if queries.order_summary(order_id) != expected:
                f.projection_mismatches.append(f"order {order_id}")
        for user_id in streams.aggregate_ids("user"):
            expected_profile = fold_user_profile(_stream_or_nothing(streams, user_id))
            row = conn.execute(
                sa.select(user_profiles).where(user_profiles.c.user_id == user_id)
            ).first()
            if (
                expected_profile is None
                or row is None
                or (row.email, row.name, row.loyalty_points, row.version)
                != (
                    expected_profile.email,
                    expected_profile.name,
                    expected_profile.loyalty_points,
                    expected_profile.version,
                )
            ):
                f.projection_mismatches.append(f"user {user_id}")

        f.duplicate_effects = _duplicate_db_effects(conn)

        done_external = conn.execute(
            sa.select(outbox.c.event_id, outbox.c.handler).where(
                outbox.c.status == "done",
                outbox.c.handler.in_([*EMAIL_HANDLERS, "forward_to_webhooks"]),
            )
        ).all()
    mail_keys = _maildir_keys(maildir) if maildir is not None else Counter()
    hook_keys = receiver.accepted_keys() if receiver is not None else Counter()
    for event_id, handler in done_external:
        key = f"{event_id}:{handler}"
        if handler in EMAIL_HANDLERS and maildir is not None:
            seen = mail_keys[key]
        elif handler == "forward_to_webhooks" and receiver is not None:
            seen = hook_keys[key]
        else:
            continue
        if seen == 0:
            f.missing_external += 1
            f.missing_keys.append(key)
        f.duplicate_external += max(0, seen - 1)
    return f


def _stream_or_nothing(streams: SqlEventStreams, aggregate_id: str) -> list[DomainEvent]:
    """A stream with a poison event projects to nothing (its deliveries are dead)."""
    try:
        return streams.load_stream(aggregate_id)
    except UnprocessableMessage:
        return []


def _duplicate_db_effects(conn: sa.Connection) -> int:
    """Effects applied more than once: double awards/revokes, balances that do not add up,
    and done transactional deliveries without exactly one receipt."""
    duplicates = 0
    per_order = Counter(
        (row.event_type, row.payload["order_id"])
        for row in conn.execute(
            sa.select(events.c.event_type, events.c.payload).where(
                events.c.event_type.in_(
                    ["user.loyalty_points_awarded", "user.loyalty_points_revoked"]
                )
            )
        )
    )
    duplicates += sum(n - 1 for n in per_order.values() if n > 1)
    for user in conn.execute(sa.select(users.c.id, users.c.loyalty_points)):
        awarded = sum(
            row.payload["points"] * (1 if row.event_type.endswith("awarded") else -1)
            for row in conn.execute(
                sa.select(events.c.event_type, events.c.payload).where(
                    events.c.aggregate_id == user.id,
                    events.c.event_type.like("user.loyalty_points_%"),
                )
            )
        )
        if awarded != user.loyalty_points:
            duplicates += 1
    transactional = [n for n, s in HANDLERS_BY_NAME.items() if s.transactional is not None]
    missing_receipts = conn.execute(
        sa.select(sa.func.count())
        .select_from(
            outbox.outerjoin(
                handler_receipts,
                sa.and_(
                    handler_receipts.c.event_id == outbox.c.event_id,
                    handler_receipts.c.handler == outbox.c.handler,
                ),
            )
        )
        .where(
            outbox.c.status == "done",
            outbox.c.handler.in_(transactional),
            handler_receipts.c.event_id.is_(None),
        )
    ).scalar_one()
    return duplicates + int(missing_receipts)
