"""In-memory doubles of the write service's ports, for unit tests."""

import asyncio
import contextlib
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from uuid import UUID, uuid4

from services.write.application.ports import (
    AppendResult,
    EmailClaim,
    ErasureRequest,
    IdempotencyKeyTaken,
    IdempotencyRecord,
    PartialPublish,
    StoredResponse,
    StoredStream,
    SubjectErased,
    TrackingChanged,
)
from services.write.domain.errors import ConcurrencyError, DuplicateEmail
from shared.contracts.cloudevents import OutgoingEvent, outgoing
from shared.contracts.envelope import START, Cursor, EventMetadata, RecordedEvent
from shared.contracts.events import DomainEvent, stock_stream_id
from shared.contracts.personal import subject_of


class FakeEventStore:
    """Keeps streams in dicts; enforces the same rules as the real store."""

    def __init__(self) -> None:
        self.streams: dict[UUID, tuple[str, list[DomainEvent]]] = {}
        self.emails: dict[str, UUID] = {}
        self.responses: dict[str, StoredResponse] = {}
        self.position = 0
        self.conflicts_to_inject = 0
        self.appends = 0
        self.tracking_queries = 0
        # Erased customers: their journal (the request and the position of CustomerErased).
        self.erasures: dict[UUID, tuple[ErasureRequest, int]] = {}

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
        untracked: Sequence[UUID] = (),
        erasure: ErasureRequest | None = None,
    ) -> AppendResult:
        if self.conflicts_to_inject:
            self.conflicts_to_inject -= 1
            raise ConcurrencyError("injected")
        _, current = self.streams.get(stream_id, (stream_type, []))
        if any(stream in self.streams for stream in untracked):  # checked first, as in SQL
            raise TrackingChanged()
        if len(current) != expected_version:
            raise ConcurrencyError("version taken")
        if idempotency is not None and idempotency.key in self.responses:
            raise IdempotencyKeyTaken()
        self._check_subjects(stream_type, stream_id, events)
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
        if erasure is not None:
            self.erasures[erasure.customer_id] = (erasure, self.position)
            self.emails = {e: c for e, c in self.emails.items() if c != erasure.customer_id}
        return AppendResult(version=version, position=self.position)

    def _check_subjects(
        self, stream_type: str, stream_id: UUID, events: Sequence[DomainEvent]
    ) -> None:
        """SubjectErased for an event holding an erased customer's personal data, as the
        real store's guard refuses it."""
        for event in events:
            data = event.model_dump(mode="json")
            subject = subject_of(event.event_type(), stream_type, stream_id, data)
            if subject is not None and UUID(subject) in self.erasures:
                raise SubjectErased(f"customer {subject} was erased")

    async def stream_type_of(self, stream_id: UUID) -> str | None:
        return self.streams[stream_id][0] if stream_id in self.streams else None

    async def tracked_skus(self, skus: Collection[str]) -> set[str]:
        self.tracking_queries += 1
        return {sku for sku in skus if stock_stream_id(sku) in self.streams}

    async def find_response(self, key: str) -> StoredResponse | None:
        return self.responses.get(key)

    async def read_all(self, after: Cursor, limit: int) -> list[RecordedEvent]:
        return []


class FakeEventLog:
    """The commit-ordered log as the relay reads it, as a list; each event its own transaction."""

    def __init__(self) -> None:
        self.events: list[OutgoingEvent] = []

    def add(self, count: int) -> list[OutgoingEvent]:
        added = [self._event(len(self.events) + n + 1) for n in range(count)]
        self.events.extend(added)
        return added

    async def read_outgoing(
        self, after: Cursor, limit: int, *, min_position: int = 0
    ) -> list[OutgoingEvent]:
        later = (e for e in self.events if e.cursor > after and e.position >= min_position)
        return list(later)[:limit]

    async def count_outgoing(self, after: Cursor) -> int:
        return sum(1 for e in self.events if e.cursor > after)

    @staticmethod
    def _event(position: int) -> OutgoingEvent:
        return outgoing(
            RecordedEvent(
                position=position,
                transaction_id=position,
                event_id=uuid4(),
                stream_type="customer",
                stream_id=uuid4(),
                version=1,
                event_type="CustomerRegistered",
                schema_version=1,
                data={"name": "A", "email": f"a{position}@x.io"},
                metadata=EventMetadata(),
                recorded_at=datetime.now(UTC),
            )
        )


class FakeCheckpoints:
    """The relay's checkpoint, with every cursor saved."""

    def __init__(self) -> None:
        self.saved: list[Cursor] = []

    async def load(self) -> Cursor:
        return self.saved[-1] if self.saved else START

    async def save(self, cursor: Cursor) -> None:
        self.saved.append(cursor)


class FakePublisher:
    """Acknowledges what it is sent, unless `failures` holds the error for the next batch."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEvent] = []
        self.failures: list[Exception] = []
        self.started = self.stopped = 0

    async def start(self) -> bool:
        self.started += 1
        return False

    async def stop(self) -> None:
        self.stopped += 1

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        if self.failures:
            failure = self.failures.pop(0)
            self.sent.extend(events[: failure.acked if isinstance(failure, PartialPublish) else 0])
            raise failure
        self.sent.extend(events)


class FakeElection:
    """The relay's lock among replicas: hands out one FakeLeadership per attempt to lead."""

    def __init__(self, *, taken: bool = False) -> None:
        self.taken = taken  # another replica holds the lock
        self.terms: list[FakeLeadership] = []

    def leadership(self) -> "FakeLeadership":
        term = FakeLeadership(self)
        self.terms.append(term)
        return term

    @property
    def leader(self) -> "FakeLeadership | None":
        return next((t for t in self.terms if t.held), None)


class FakeLeadership:
    """One attempt to lead; `depose` ends it as a dropped connection would."""

    def __init__(self, election: FakeElection) -> None:
        self._election = election
        self._wakeup = asyncio.Event()
        self.held = self.released = False

    async def try_acquire(self) -> bool:
        if self._election.taken or self._election.leader is not None:
            return False
        self.held = True
        self._wakeup.set()
        return True

    @property
    def lost(self) -> bool:
        return not self.held

    async def check(self) -> None:
        pass

    async def release(self) -> None:
        self.held, self.released = False, True

    def clear_wakeup(self) -> None:
        self._wakeup.clear()

    async def wait_for_wakeup(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    def wake(self) -> None:
        """Events were appended."""
        self._wakeup.set()

    def depose(self) -> None:
        self.held = False


class FakeRelayObserver:
    """Keeps what the relay reported, in order."""

    def __init__(self) -> None:
        self.resumed_at: list[int] = []
        self.batches: list[tuple[int, int]] = []  # (events acknowledged, position published)
        self.latencies: list[float] = []
        self.lags: list[int] = []
        self.leadership: list[bool] = []
        self.errors: list[BaseException] = []

    def resumed(self, position: int) -> None:
        self.resumed_at.append(position)

    def published(self, latencies: Sequence[float], position: int) -> None:
        self.batches.append((len(latencies), position))
        self.latencies.extend(latencies)

    def lag(self, events: int) -> None:
        self.lags.append(events)

    def leading(self, leader: bool) -> None:
        self.leadership.append(leader)

    def publish_failed(self, error: BaseException) -> None:
        self.errors.append(error)

    @property
    def published_count(self) -> int:
        return sum(count for count, _ in self.batches)
