"""What the application needs from the outside world; adapters implement these."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from shared.contracts.cloudevents import OutgoingEvent
from shared.contracts.envelope import Cursor, EventMetadata, RecordedEvent
from shared.contracts.events import DomainEvent


@dataclass(frozen=True)
class StoredStream:
    """A stream's events after some version, decoded; `stream_type` None when none were found."""

    stream_type: str | None
    events: list[DomainEvent]


@dataclass(frozen=True)
class AppendResult:
    version: int
    position: int


@dataclass(frozen=True)
class EmailClaim:
    """Emails (normalized) to reserve for, and to release from, a customer in the same append."""

    claim: str
    release: str | None = None


@dataclass(frozen=True)
class IdempotencyRecord:
    """Stored with the append, so that a retry of the same request replays its response."""

    key: str
    fingerprint: str
    created: bool  # the command created its stream (what happened, not how HTTP says it)


@dataclass(frozen=True)
class StoredResponse:
    fingerprint: str
    created: bool
    stream_id: UUID
    version: int
    position: int


class IdempotencyKeyTaken(Exception):
    """A concurrent request with the same idempotency key committed first."""


class TrackingChanged(Exception):
    """A SKU the append took as untracked has a stock item: nothing was appended; decide again
    with what `EventStore.tracked_skus` says."""


class Unavailable(Exception):
    """The event store or the broker cannot be reached right now: retry later."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class Refused(Exception):
    """The event store answered and refused the work itself (a statement it rejects): the same
    work as it is will be refused again."""


class EventStore(Protocol):
    """The event store: streams with optimistic concurrency, plus the commit-ordered log."""

    async def load(self, stream_id: UUID, after_version: int = 0) -> StoredStream: ...

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
    ) -> AppendResult:
        """Append after `expected_version` (else ConcurrencyError), in the same transaction as
        the email claim and the idempotency record; TrackingChanged, and nothing appended, if
        one of the `untracked` stock streams exists."""
        ...

    async def tracked_skus(self, skus: Collection[str]) -> set[str]:
        """Those of `skus` that have a stock item."""
        ...

    async def find_response(self, key: str) -> StoredResponse | None: ...

    async def stream_type_of(self, stream_id: UUID) -> str | None: ...

    async def read_all(self, after: Cursor, limit: int) -> list[RecordedEvent]: ...


@dataclass(frozen=True)
class LogPage:
    """Events of the log in commit order, each as the feed serves it, and the cursor after them
    (the one read after, when there were none)."""

    events: list[dict[str, Any]]
    next: Cursor


@dataclass(frozen=True)
class LogHead:
    """The last event readers can see (START when none) and the highest position committed
    (0 when none is visible yet)."""

    cursor: Cursor
    position: int


class EventLogReader(Protocol):
    """The log as the HTTP API serves it: one stream, the whole log by pages, its head."""

    async def read_stream(
        self, stream_id: UUID, *, after_version: int = 0, limit: int = 1000
    ) -> list[RecordedEvent]: ...

    async def read_page(self, after: Cursor, limit: int) -> LogPage: ...

    async def head(self) -> LogHead: ...

    async def ping(self, timeout: float) -> None:
        """Return once the store answered; Unavailable when it did not within `timeout` s."""
        ...


class MetricsExposition(Protocol):
    """The service's metrics as a scraper reads them."""

    async def render(self) -> tuple[bytes, str]:
        """The exposition's body and its content type."""
        ...


class CheckpointStore(Protocol):
    async def load(self) -> Cursor: ...

    async def save(self, cursor: Cursor) -> None: ...


class EventFeed(Protocol):
    """The commit-ordered log as the relay and the republish command read it: the events
    consumers get (never a stream internal to this service), ready to be sent."""

    async def read_outgoing(
        self, after: Cursor, limit: int, *, min_position: int = 0
    ) -> Sequence[OutgoingEvent]: ...

    async def count_outgoing(self, after: Cursor) -> int:
        """How many of those are committed after `after`."""
        ...


class BrokerPublisher(Protocol):
    """Sends stored events to the broker and waits for its acknowledgements."""

    async def start(self) -> bool:
        """Connect; True when the broker had lost what was published before."""
        ...

    async def stop(self) -> None: ...

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        """Every event acknowledged, or PartialPublish (or any error: none acknowledged)."""
        ...


class RelayObserver(Protocol):
    """What the relay reports as it runs; the composition root makes metrics of it."""

    def resumed(self, position: int) -> None:
        """A term starts from its checkpoint: the highest position published so far."""
        ...

    def published(self, latencies: Sequence[float], position: int) -> None:
        """The broker acknowledged events, each `latencies[i]` seconds after it was recorded;
        the highest position published is now `position`."""
        ...

    def lag(self, events: int) -> None:
        """Committed events not yet acknowledged by the broker."""
        ...

    def leading(self, leader: bool) -> None:
        """This process took (True) or gave up (False) the relay's leadership."""
        ...

    def publish_failed(self, error: BaseException) -> None:
        """A term ended on an error (a failed batch, the broker or database gone)."""
        ...


class PartialPublish(Exception):
    """Some records of a batch were not acknowledged; `acked` leading ones were."""

    def __init__(self, acked: int, cause: BaseException) -> None:
        super().__init__(f"{acked} records acknowledged before failure: {cause!r}")
        self.acked = acked
        self.cause = cause


class Leadership(Protocol):
    """One term of the relay's leadership among replicas, and the wake-up sent by appends.

    A term, once lost or released, is over: the next attempt takes a new Leadership.
    """

    async def try_acquire(self) -> bool:
        """Become the leader, if no other replica is; True on success."""
        ...

    @property
    def lost(self) -> bool:
        """The leadership is gone (or was never held): stop publishing."""
        ...

    async def check(self) -> None:
        """Make sure `lost` is up to date (a dead connection is noticed only when used)."""
        ...

    async def release(self) -> None: ...

    def clear_wakeup(self) -> None:
        """Forget the wake-ups so far: the log is about to be read."""
        ...

    async def wait_for_wakeup(self, timeout: float) -> None:
        """Return when events were appended since `clear_wakeup`, or after `timeout` seconds."""
        ...
