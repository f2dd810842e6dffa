"""In-memory doubles of the fulfilment process's ports, for unit tests."""

import contextlib
import copy
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from services.write.application.fulfilment.ports import (
    Awaiting,
    History,
    InstanceRecord,
    Lag,
    LogBatch,
    RetryOutcome,
)
from services.write.application.ports import Refused
from services.write.domain.errors import ConcurrencyError
from services.write.domain.fulfilment import Instance
from services.write.domain.fulfilment_events import RETRY, Cause, FulfilmentRetried
from shared.contracts.envelope import START, Cursor, EventMetadata, RecordedEvent
from shared.contracts.events import FULFILMENT, DomainEvent, fulfilment_stream_id


class FakeClock:
    """The database's clock, moved by the test."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass(frozen=True)
class Stored:
    """An event as the fake store keeps it."""

    event_id: UUID
    event: DomainEvent
    metadata: EventMetadata


@dataclass
class Database:
    """What a transaction of the fake store may change (copied for a savepoint)."""

    streams: dict[UUID, tuple[str, list[Stored]]] = field(default_factory=dict)
    log: list[RecordedEvent] = field(default_factory=list)
    rows: dict[UUID, InstanceRecord] = field(default_factory=dict)
    checkpoint: Cursor = START


class FakeFulfilmentStore:
    """FulfilmentStore and FulfilmentInstances in memory, with PostgreSQL's rules: versions
    are checked, a failing block undoes its writes. `refuse` names streams whose appends are
    refused; `conflicts` appends fail as lost races first."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.db = Database()
        self.refuse: set[UUID] = set()
        self.conflicts = 0
        self.batches = 0

    def append_now(
        self,
        stream_type: str,
        stream_id: UUID,
        events: Sequence[DomainEvent],
        metadata: EventMetadata | None = None,
    ) -> list[RecordedEvent]:
        """An append from elsewhere (a command over HTTP), committed at once."""
        kind, stored = self.db.streams.get(stream_id, (stream_type, []))
        return self._append(kind, stream_id, len(stored), events, metadata or EventMetadata())

    def _append(
        self,
        stream_type: str,
        stream_id: UUID,
        expected: int,
        events: Sequence[DomainEvent],
        metadata: EventMetadata,
    ) -> list[RecordedEvent]:
        kind, stored = self.db.streams.get(stream_id, (stream_type, []))
        if len(stored) != expected:
            raise ConcurrencyError(f"stream {stream_id} is at version {len(stored)}")
        recorded = []
        for event in events:
            position = len(self.db.log) + 1
            item = Stored(uuid4(), event, metadata)
            stored = [*stored, item]
            recorded.append(
                RecordedEvent(
                    position=position,
                    transaction_id=position,
                    event_id=item.event_id,
                    stream_type=kind,
                    stream_id=stream_id,
                    version=len(stored),
                    event_type=event.event_type(),
                    schema_version=event.schema_version,
                    data=event.model_dump(mode="json"),
                    metadata=metadata,
                    recorded_at=self.clock.now,
                )
            )
            self.db.log.append(recorded[-1])
        self.db.streams[stream_id] = (kind, stored)
        return recorded

    def stored(self, stream_id: UUID) -> list[Stored]:
        return self.db.streams.get(stream_id, ("", []))[1]

    def types(self, stream_id: UUID) -> list[str]:
        return [s.event.event_type() for s in self.stored(stream_id)]

    @contextlib.asynccontextmanager
    async def work(self) -> AsyncIterator["FakeWork"]:
        before = copy.deepcopy(self.db)
        try:
            yield FakeWork(self)
        except BaseException:
            self.db = before
            raise
        self.batches += 1

    async def checkpoint(self) -> Cursor:
        return self.db.checkpoint

    async def lag(self, after: Cursor) -> Lag:
        late = [e for e in self.db.log if e.cursor > after and e.stream_type == "order"]
        age = (self.clock.now - late[0].recorded_at).total_seconds() if late else 0.0
        return Lag(events=len(late), seconds=age)

    async def get(self, order_id: UUID) -> InstanceRecord | None:
        return self.db.rows.get(order_id)

    async def retry(
        self, order_id: UUID, *, by: str, metadata: EventMetadata | None = None
    ) -> RetryOutcome:
        row = self.db.rows.get(order_id)
        if row is None:
            return RetryOutcome.UNKNOWN
        if row.state != "suspended":
            return RetryOutcome.NOT_SUSPENDED
        retried = FulfilmentRetried(by=by, cause=Cause(event=RETRY))
        stream_id = fulfilment_stream_id(order_id)
        self._append(FULFILMENT, stream_id, row.version, [retried], metadata or EventMetadata())
        self.db.rows[order_id] = replace(
            row, state="active", attempts=0, error=None, wake=True, version=row.version + 1
        )
        return RetryOutcome.RETRIED


class FakeWork:
    """One transaction of the fake store."""

    def __init__(self, store: FakeFulfilmentStore) -> None:
        self._store = store

    @property
    def now(self) -> datetime:
        return self._store.clock.now

    async def order_events(self, after: Cursor, limit: int) -> LogBatch:
        log = self._store.db.log
        events = [e for e in log if e.cursor > after and e.stream_type == "order"][:limit]
        if len(events) == limit:
            return LogBatch(events, events[-1].cursor)
        return LogBatch(events, max([after, *(e.cursor for e in log[-1:])]))

    async def awaiting(self, limit: int) -> list[Awaiting]:
        rows = [r for r in self._store.db.rows.values() if r.state == "active"]
        due = [r for r in rows if not r.wake and r.deadline_at and r.deadline_at <= self.now]
        woken = [r for r in rows if r.wake]
        return [Awaiting(r.order_id, r.wake) for r in (due[:limit] + woken[:limit])]

    async def states(self, order_ids: Sequence[UUID]) -> dict[UUID, str]:
        rows = self._store.db.rows
        return {o: rows[o].state for o in order_ids if o in rows}

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        before = copy.deepcopy(self._store.db)
        try:
            yield
        except BaseException:
            self._store.db = before
            raise

    async def instance(self, order_id: UUID) -> InstanceRecord | None:
        return self._store.db.rows.get(order_id)

    async def load(self, stream_id: UUID, after_version: int = 0) -> History:
        kind, stored = self._store.db.streams.get(stream_id, (None, []))
        later = stored[after_version:]
        if not later:
            return History(stream_type=None, events=[])
        return History(
            stream_type=kind,
            events=[s.event for s in later],
            first=stored[0].metadata,
            last_id=later[-1].event_id,
            last=later[-1].metadata,
        )

    async def append(
        self,
        *,
        stream_type: str,
        stream_id: UUID,
        expected_version: int,
        events: Sequence[DomainEvent],
        metadata: EventMetadata,
    ) -> None:
        if stream_id in self._store.refuse:
            raise Refused(f"RaiseError: stream {stream_id} refused")
        if self._store.conflicts:
            self._store.conflicts -= 1
            raise ConcurrencyError("injected")
        self._store._append(stream_type, stream_id, expected_version, events, metadata)

    async def save(self, instance: Instance) -> None:
        self._row(instance, wake=False, error=instance.error, progressed=True)

    async def failed(self, instance: Instance, *, error: str) -> None:
        self._row(instance, wake=instance.state == "active", error=error, progressed=False)

    async def save_checkpoint(self, cursor: Cursor) -> None:
        self._store.db.checkpoint = cursor

    def _row(self, instance: Instance, *, wake: bool, error: str | None, progressed: bool) -> None:
        known = self._store.db.rows.get(instance.order_id)
        now = self.now
        self._store.db.rows[instance.order_id] = InstanceRecord(
            order_id=instance.order_id,
            state=instance.state,
            stage=instance.stage,
            rules=instance.rules,
            version=instance.version,
            reservations=dict(instance.reservations),
            deadline_at=instance.deadline_at,
            wake=wake,
            attempts=instance.attempts,
            error=error,
            started_at=known.started_at if known else now,
            progressed_at=now if progressed or known is None else known.progressed_at,
            updated_at=now,
        )
