"""Which handlers get deliveries in this process: those whose required settings are set.

``bootstrap`` decides it once, from the process's settings, and hands the result to every
unit of work: a command writes one delivery per event and *enabled* handler. A disabled
handler keeps its Celery task, so deliveries written while it was enabled still run; it
simply gets no new ones. Enabling it later (setting what it requires, restarting) gives it
the events from then on.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from app.application.event_handlers.specs import HandlerSpec

IsSet = Callable[[str], bool]
"""Whether the setting of this environment name has a value; raises for an unknown name."""


@dataclass(frozen=True)
class Subscription:
    """One handler as this process runs it: enabled, or which settings it lacks."""

    spec: HandlerSpec
    missing: tuple[str, ...]
    """Required settings that are not set, in the order the spec names them."""

    @property
    def enabled(self) -> bool:
        return not self.missing

    @property
    def disabled_reason(self) -> str | None:
        """Why the handler gets no deliveries (``WEBHOOK_URLS is not set``); None if enabled."""
        if not self.missing:
            return None
        names = " and ".join(self.missing)
        return f"{names} {'is' if len(self.missing) == 1 else 'are'} not set"


class Subscriptions:
    """Every handler with its state, and the subscribers of each event type.

    Calling it with an event type gives the names of the enabled handlers subscribed to
    it: what ``SqlUnitOfWork`` writes deliveries for.
    """

    def __init__(self, handlers: Iterable[HandlerSpec], is_set: IsSet) -> None:
        self.all: tuple[Subscription, ...] = tuple(
            Subscription(spec, tuple(name for name in spec.requires if not is_set(name)))
            for spec in handlers
        )
        self._by_name = {s.spec.name: s for s in self.all}
        enabled = [s.spec for s in self.all if s.enabled]
        self._subscribers = {
            event_type: tuple(spec.name for spec in enabled if event_type in spec.event_types)
            for event_type in {t for spec in enabled for t in spec.event_types}
        }

    def __call__(self, event_type: str) -> list[str]:
        return list(self._subscribers.get(event_type, ()))

    def get(self, name: str) -> Subscription | None:
        return self._by_name.get(name)
