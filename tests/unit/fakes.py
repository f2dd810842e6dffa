"""In-memory doubles of the write service's ports, for unit tests."""

from collections.abc import Sequence
from uuid import UUID

from services.write.application.ports import (
    AppendResult,
    EmailClaim,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    StoredResponse,
    StoredStream,
)
from services.write.domain.errors import ConcurrencyError, DuplicateEmail
from shared.contracts.envelope import Cursor, EventMetadata, RecordedEvent
from shared.contracts.events import DomainEvent


class FakeEventStore:
    """Keeps streams in dicts; enforces the same rules as the real store."""

    def __init__(self) -> None:
        self.streams: dict[UUID, tuple[str, list[DomainEvent]]] = {}
        self.emails: dict[str, UUID] = {}
        self.responses: dict[str, StoredResponse] = {}
        self.position = 0
        self.conflicts_to_inject = 0
        self.appends = 0

    async def load(self, stream_id: UUID, after_version: int = 0) -> StoredStream:
        kind, events = self.streams.get(stream_id, (None, []))
        if len(events) <= after_version:
            return StoredStream(stream_type=None, events=[])
        return StoredStream(stream_type=kind, events=list(events[after_version:]))

    async def append(
        self,
        *,
        stream_type: str,
        stream_id: UUID,
        expected_version: int,
        events: Sequence[DomainEvent],
        metadata: EventMetadata,
        email: EmailClaim | None = None,
        idempotency: IdempotencyRecord | None = None,
    ) -> AppendResult:
        if self.conflicts_to_inject:
            self.conflicts_to_inject -= 1
            raise ConcurrencyError("injected")
        _, current = self.streams.get(stream_id, (stream_type, []))
        if len(current) != expected_version:
            raise ConcurrencyError("version taken")
        if idempotency is not None and idempotency.key in self.responses:
            raise IdempotencyKeyTaken()
        if email is not None:
            owner = self.emails.get(email.claim)
            if owner is not None and owner != stream_id:
                raise DuplicateEmail("taken")
            if email.release is not None:
                self.emails.pop(email.release, None)
            self.emails[email.claim] = stream_id
        self.streams[stream_id] = (stream_type, [*current, *events])
        self.position += len(events)
        self.appends += 1
        version = expected_version + len(events)
        if idempotency is not None:
            self.responses[idempotency.key] = StoredResponse(
                idempotency.fingerprint, idempotency.created, stream_id, version, self.position
            )
        return AppendResult(version=version, position=self.position)

    async def stream_type_of(self, stream_id: UUID) -> str | None:
        return self.streams[stream_id][0] if stream_id in self.streams else None

    async def find_response(self, key: str) -> StoredResponse | None:
        return self.responses.get(key)

    async def read_all(self, after: Cursor, limit: int) -> list[RecordedEvent]:
        return []
