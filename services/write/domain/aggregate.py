"""The aggregate base: decide by recording events, evolve by applying them."""

from collections.abc import Iterable
from typing import ClassVar, Self
from uuid import UUID

from shared.contracts.events import DomainEvent, StreamType


class Aggregate:
    """State rebuilt from its events; new events wait in `pending` until the store appends them."""

    stream_type: ClassVar[StreamType]

    def __init__(self, stream_id: UUID) -> None:
        self.id = stream_id
        self.version = 0
        self.pending: list[DomainEvent] = []

    @classmethod
    def rehydrate(cls, stream_id: UUID, events: Iterable[DomainEvent]) -> Self:
        aggregate = cls(stream_id)
        for event in events:
            aggregate.apply(event)
        return aggregate

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def owner(self) -> UUID | None:
        """The customer whose data this is (a customer's token may act on it)."""
        return None

    def apply(self, event: DomainEvent) -> None:
        handler = getattr(self, f"_on_{event.event_type()}", None)
        if handler is None:
            raise TypeError(f"{type(self).__name__} cannot apply {event.event_type()}")
        handler(event)
        self.version += 1

    def record(self, event: DomainEvent) -> None:
        self.apply(event)
        self.pending.append(event)
