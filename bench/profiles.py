"""How long and how large each phase is: ``quick`` (about a minute: every figure, roughly; what
the test suite runs) or ``full`` (under 10 minutes: the figures to quote)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    raw_tasks: int
    """No-op tasks published one by one, then consumed from the backlog."""
    paced_rate: float
    """Tasks per second for raw Celery's apply→start latency (worker idle otherwise)."""
    paced_seconds: float
    dual_write_tasks: int
    lean_tasks: int
    """Backlog of the lean yardstick (read and upsert through the raw driver)."""
    http_clients: int
    http_seconds: float
    """Closed-loop window for the bare endpoint and ``POST /api/orders``."""
    backlog_orders: int
    """At most this many orders are created in the POST window: they are the drain's backlog."""
    latency_rate: float
    latency_seconds: float
    bounded_window: float
    """Seconds an offered rate must keep the backlog bounded."""
    bounded_start_rate: float
    bounded_max_windows: int
    relay_rows: int
    """Done deliveries turned back to pending for the relay-drain phase."""
    rebuild_orders: int
    """Orders (about 2.6 events each) seeded into a throwaway store to time a rebuild on."""
    ordering_keys: int
    """Orders whose ``forward_to_webhooks`` deliveries each ordering drain seeds."""
    ordering_events: int
    """Events per order in the ordering drains."""
    ordering_rounds: int
    """Rounds of the ordering phase, each draining unordered then ordered; medians over them."""
    ordering_retry_rounds: int
    """The first this many rounds also drain both with 5 % of the keys' heads retrying."""


QUICK = Profile(
    name="quick",
    raw_tasks=200,
    paced_rate=20.0,
    paced_seconds=2.0,
    dual_write_tasks=200,
    lean_tasks=300,
    http_clients=8,
    http_seconds=2.5,
    backlog_orders=150,
    latency_rate=10.0,
    latency_seconds=2.5,
    bounded_window=3.0,
    bounded_start_rate=20.0,
    bounded_max_windows=1,
    relay_rows=3000,
    rebuild_orders=2000,
    ordering_keys=200,
    ordering_events=5,
    ordering_rounds=1,
    ordering_retry_rounds=1,
)

FULL = Profile(
    name="full",
    raw_tasks=2000,
    paced_rate=20.0,
    paced_seconds=10.0,
    dual_write_tasks=1500,
    lean_tasks=2000,
    http_clients=8,
    http_seconds=15.0,
    backlog_orders=1500,
    latency_rate=10.0,
    latency_seconds=30.0,
    bounded_window=60.0,
    bounded_start_rate=40.0,
    bounded_max_windows=4,
    relay_rows=3000,
    rebuild_orders=20000,
    ordering_keys=1000,
    ordering_events=5,
    ordering_rounds=3,
    ordering_retry_rounds=1,
)

PROFILES = {p.name: p for p in (QUICK, FULL)}
