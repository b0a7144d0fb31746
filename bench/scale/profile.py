"""The matrix and window sizes of a scale-out run: ``full`` (the figures to quote, about
5 minutes a broker on 2 cores) or ``quick`` (a smoke run of about a minute a broker)."""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ScaleProfile:
    name: str
    workers: tuple[int, ...]
    """Worker processes: the prefork pool's size of the one ``celery worker``."""
    relays: tuple[int, ...]
    """``flask --app app outbox relay --follow`` processes."""
    backlog_commands: int
    """Create-order commands posted while the relays are paused: the drain's backlog."""
    latency_rate: float
    """Commands per second offered in the latency window (open loop, create and pay
    alternating)."""
    latency_seconds: float


FULL = ScaleProfile(
    name="full",
    workers=(1, 2, 4, 8),
    relays=(1, 2),
    backlog_commands=300,
    latency_rate=10.0,
    latency_seconds=10.0,
)
QUICK = ScaleProfile(
    name="quick",
    workers=(1, 2),
    relays=(1, 2),
    backlog_commands=40,
    latency_rate=10.0,
    latency_seconds=2.0,
)
MAX_PROCESSES = 16
"""More worker or relay processes than this on one machine measures its scheduler."""


def parse_counts(text: str) -> tuple[int, ...]:
    """``"1,2,4,8"`` → ``(1, 2, 4, 8)``: distinct, ascending, each 1…``MAX_PROCESSES``."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of whole numbers") from None
    if not counts:
        raise ValueError("give at least one count")
    wrong = [c for c in counts if not 1 <= c <= MAX_PROCESSES]
    if wrong:
        raise ValueError(f"counts must be between 1 and {MAX_PROCESSES}: {wrong}")
    if len(set(counts)) != len(counts):
        raise ValueError(f"a count is given twice: {text!r}")
    return tuple(sorted(counts))


def chosen(
    quick: bool, workers: tuple[int, ...] | None, relays: tuple[int, ...] | None
) -> ScaleProfile:
    """The quick or full profile, with the worker and relay counts replaced when given."""
    profile = QUICK if quick else FULL
    return replace(
        profile,
        workers=workers if workers is not None else profile.workers,
        relays=relays if relays is not None else profile.relays,
    )
