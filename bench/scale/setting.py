"""What every cell of one broker's matrix shares, and how the bench posts its orders."""

import itertools
from dataclasses import dataclass

from bench import load, sample_order
from bench.outbox_watch import OutboxWatch
from bench.progress import Progress
from bench.rig import Rig
from bench.scale.profile import ScaleProfile

DRAIN_TIMEOUT = 300.0
"""Longest wait for the outbox to drain, in any window."""
BACKLOG_CLIENTS = 8


@dataclass(frozen=True)
class Setting:
    """What every cell of one broker's matrix shares."""

    rig: Rig
    watch: OutboxWatch
    port: int
    user_ids: list[str]
    """Orders are spread over these users (``bench.load.CreateAndPay`` says why)."""
    profile: ScaleProfile
    progress: Progress


def post_orders(setting: Setting, count: int) -> load.LoadResult:
    """``count`` create-order commands from ``BACKLOG_CLIENTS`` closed-loop clients, the
    users in turn."""
    turn = itertools.count()
    users = setting.user_ids
    return load.closed_loop(
        setting.port,
        lambda: ("/api/orders", sample_order.body(users[next(turn) % len(users)])),
        clients=BACKLOG_CLIENTS,
        seconds=DRAIN_TIMEOUT,
        limit=count,
    )
