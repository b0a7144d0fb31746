"""Domain errors. The API maps each family to one HTTP status."""


class DomainError(Exception):
    """Base of every refusal raised by the domain or the command handlers."""


class InvalidCommand(DomainError):
    """The command is well-formed but violates a business rule (HTTP 422)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    """The addressed aggregate does not exist (HTTP 404)."""


class Conflict(DomainError):
    """The aggregate's current state refuses the command (HTTP 409)."""


class EmailTaken(Conflict):
    """Another user already registered this email address."""


class InvalidTransition(Conflict):
    """The order's status does not allow this command."""


class ConcurrencyConflict(Conflict):
    """Another command changed the same aggregate first; nothing was written."""
