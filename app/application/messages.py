"""What travels with a message besides its content: the trace of who caused it."""

from dataclasses import dataclass

from app.domain.events import DomainEvent


@dataclass(frozen=True)
class MessageContext:
    """Correlation ties one request's whole chain together; causation names the direct cause."""

    correlation_id: str
    causation_id: str


@dataclass(frozen=True)
class EventMessage:
    """A stored event as an event handler receives it."""

    event: DomainEvent
    correlation_id: str
    causation_id: str

    def caused_context(self) -> MessageContext:
        """Context for commands a handler issues in reaction to this event."""
        return MessageContext(self.correlation_id, self.event.event_id)
