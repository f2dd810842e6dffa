"""What the personal-data handlers need besides the event store's ports: the read side's view
of an erasure."""

from typing import Protocol
from uuid import UUID


class ErasureProgress(Protocol):
    """Whether each projection of the read side has applied a customer's erasure (adapter:
    adapters/read_side.py)."""

    async def projections(
        self, customer_id: UUID, *, credentials: str | None
    ) -> dict[str, bool] | None:
        """Per projection, whether it applied the customer's CustomerErased; None when the
        read side is not configured, cannot be reached, or refuses the caller's
        `credentials` (the Authorization the request came with, passed on)."""
        ...

    async def close(self) -> None: ...
