"""The domain's own failures; the HTTP layer maps each kind to a status."""


class DomainError(Exception):
    """A business rule refused the command (409)."""


class InvalidTransition(DomainError):
    """The aggregate's status does not allow the command."""


class DuplicateEmail(DomainError):
    """Another customer already uses this email (case-insensitively)."""


class ErasedCustomer(DomainError):
    """The customer was erased: nothing personal may be recorded for them again (409)."""


class NotFound(Exception):
    """The aggregate (or a part of it) does not exist (404)."""


class UnknownReference(Exception):
    """The command refers to another aggregate that does not exist (422)."""


class VersionMismatch(Exception):
    """`If-Match` named a version the stream has moved past (412)."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, stream is at version {actual}")
        self.expected = expected
        self.actual = actual


class ConcurrencyError(Exception):
    """Another writer appended to the stream first: the (stream_id, version) key was taken."""


class StockPending(DomainError):
    """The order's tracked lines are not reserved yet: the same command may succeed shortly."""


class StockRule(DomainError):
    """The stock item's levels do not allow the change (on hand below zero or below reserved)."""
