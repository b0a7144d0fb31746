"""What travels with a message besides its content: the trace of who caused it."""

from dataclasses import dataclass

from app.domain.events import DomainEvent


@dataclass(frozen=True)
class MessageContext:
    """Correlation ties one request's whole chain together; causation names the direct cause.

    One value carries both from the request (or the event a handler reacts to) through the
    command's commit, the stored events, the envelope, the task and its log records.
    """

    correlation_id: str
    causation_id: str

    @classmethod
    def root(cls, correlation_id: str) -> "MessageContext":
        """The start of a chain (a request): it is its own cause."""
        return cls(correlation_id, correlation_id)

    @classmethod
    def named_in(cls, envelope: object) -> "MessageContext | None":
        """The context an envelope (as decoded JSON) names, before (or without) validating
        the rest of it: what a log line can carry for a message too broken to run."""
        if not isinstance(envelope, dict):
            return None
        correlation_id, causation_id = envelope.get("correlation_id"), envelope.get("causation_id")
        if isinstance(correlation_id, str) and isinstance(causation_id, str):
            return cls(correlation_id, causation_id)
        return None


@dataclass(frozen=True)
class EventMessage:
    """A stored event as an event handler receives it."""

    event: DomainEvent
    context: MessageContext

    def caused_context(self) -> MessageContext:
        """Context for commands a handler issues in reaction to this event."""
        return MessageContext(self.context.correlation_id, self.event.event_id)
