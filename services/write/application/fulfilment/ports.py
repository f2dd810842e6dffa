"""What the fulfilment process needs from the outside world; the PostgreSQL adapter
(adapters/fulfilment_store.py) implements these."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from shared.contracts.envelope import Cursor, EventMetadata, RecordedEvent
from shared.contracts.events import DomainEvent

from ...domain.fulfilment import Instance


@dataclass(frozen=True)
class InstanceRecord:
    """An instance as its row holds it: the snapshot of its stream, for listing and deadlines
    (`rules` 0: the instance failed before it could start)."""

    order_id: UUID
    state: str
    stage: str
    rules: int
    version: int
    reservations: dict[str, int]
    deadline_at: datetime | None
    wake: bool
    attempts: int
    error: str | None
    started_at: datetime
    progressed_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class History:
    """A stream's events, decoded, with what the process takes from their metadata: the first
    event's (the order's correlation id) and the last one's (id and trace)."""

    stream_type: str | None
    events: list[DomainEvent]
    first: EventMetadata | None = None
    last_id: UUID | None = None
    last: EventMetadata | None = None


@dataclass(frozen=True)
class LogBatch:
    """The order events of the log after a cursor that can concern the process, in commit
    order, and the cursor to resume from (past the events of other streams, and of orders the
    process has nothing to do with, seen in the same read)."""

    events: list[RecordedEvent]
    next: Cursor


@dataclass(frozen=True)
class Awaiting:
    """An active instance to run without a new order event: its deadline came due, or it was
    woken (retried by an operator, or after a failed attempt)."""

    order_id: UUID
    woken: bool


@dataclass(frozen=True)
class Lag:
    """Order events the process has not handled yet, and how old the oldest of them is."""

    events: int
    seconds: float


class FulfilmentWork(Protocol):
    """One batch of the process: a transaction, committed when the block that opened it ends
    (rolled back if it raises). Its clock is the database's."""

    @property
    def now(self) -> datetime:
        """The time of the transaction, on the database's clock."""
        ...

    async def order_events(self, after: Cursor, limit: int) -> LogBatch:
        """The order events after `after`, at most `limit`; it may leave out those that can
        trigger nothing: of an order without an active instance, before any event of its that
        can start one (batch.starts_instance)."""
        ...

    async def awaiting(self, limit: int) -> list[Awaiting]:
        """Active instances whose deadline is due (at `now`) or that were woken."""
        ...

    async def states(self, order_ids: Sequence[UUID]) -> dict[UUID, str]:
        """The state of the instance of each order that has one."""
        ...

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A block whose writes are undone (and the transaction goes on) when it raises."""
        ...

    async def instance(self, order_id: UUID) -> InstanceRecord | None:
        """The order's instance row, locked until the transaction ends."""
        ...

    async def load(self, stream_id: UUID, after_version: int = 0) -> History:
        """The stream's events after `after_version`, as the transaction sees them."""
        ...

    async def append(
        self,
        *,
        stream_type: str,
        stream_id: UUID,
        expected_version: int,
        events: Sequence[DomainEvent],
        metadata: EventMetadata,
    ) -> None:
        """Append after `expected_version`; ConcurrencyError when another writer was first."""
        ...

    async def save(self, instance: Instance) -> None:
        """Store the instance as its row (progressed now, no longer woken)."""
        ...

    async def failed(self, instance: Instance, *, error: str) -> None:
        """Record a failed attempt: the row gets `instance`'s state, attempts and version and
        `error`; an instance still active is woken, to be tried again."""
        ...

    async def save_checkpoint(self, cursor: Cursor) -> None: ...


class FulfilmentStore(Protocol):
    """Where the process keeps its instances and its place in the log."""

    def work(self) -> AbstractAsyncContextManager[FulfilmentWork]:
        """A batch's transaction."""
        ...

    async def checkpoint(self) -> Cursor: ...

    async def lag(self, after: Cursor) -> Lag: ...


class RetryOutcome(StrEnum):
    RETRIED = "retried"
    NOT_SUSPENDED = "not_suspended"
    UNKNOWN = "unknown"


class FulfilmentInstances(Protocol):
    """An instance for operators: its row, and a suspended one sent back to work."""

    async def get(self, order_id: UUID) -> InstanceRecord | None: ...

    async def retry(
        self, order_id: UUID, *, by: str, metadata: EventMetadata | None = None
    ) -> RetryOutcome:
        """Make a suspended instance active again (attempts 0, woken, FulfilmentRetried by
        `by`, the operator's subject, recorded with `metadata`) and wake the process."""
        ...


class FulfilmentObserver(Protocol):
    """What the process reports as it runs; the composition root makes metrics of it."""

    def leading(self, leader: bool) -> None:
        """This replica took (True) or gave up (False) the process's leadership."""
        ...

    def issued(self, command: str) -> None:
        """A command was carried out (its name: reserve, release, expire...)."""
        ...

    def deadline_fired(self, lateness: float) -> None:
        """An order was expired `lateness` seconds after its deadline."""
        ...

    def suspended(self, order_id: UUID, error: str) -> None: ...

    def lag(self, lag: Lag) -> None: ...

    def interrupted(self, error: BaseException) -> None:
        """A term ended on an error (the database gone, a batch that failed as a whole)."""
        ...
