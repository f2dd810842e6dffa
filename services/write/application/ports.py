"""What the application needs from the outside world; adapters implement these."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from shared.contracts.envelope import Cursor, EventMetadata, RecordedEvent
from shared.contracts.events import DomainEvent

# The relay's ports live beside these; importing them from here keeps working.
from .relay_ports import (
    BrokerPublisher as BrokerPublisher,
    CheckpointStore as CheckpointStore,
    EventFeed as EventFeed,
    Leadership as Leadership,
    PartialPublish as PartialPublish,
    RelayObserver as RelayObserver,
)


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


@dataclass(frozen=True)
class ErasureRequest:
    """What an erasure appended with CustomerErased records in the journal."""

    customer_id: UUID
    erased_at: datetime
    requested_by: dict[str, str]  # the actor's identifiers (subject, client_id, customer_id)
    fields: tuple[str, ...]


@dataclass(frozen=True)
class ErasureReceipt:
    """An erasure as its journal row records it."""

    customer_id: UUID
    erased_at: datetime
    event_id: UUID
    position: int
    fields: tuple[str, ...]
    claims_released: int
    requested_by: str  # the actor's subject
    key_destroyed: bool = True


@dataclass(frozen=True)
class KeyLookup:
    """Data keys of customers, and the customers that have none."""

    keys: dict[UUID, bytes]  # unwrapped data keys of live customers
    erased: set[UUID]
    unknown: set[UUID]  # neither a key nor an erasure


@dataclass(frozen=True)
class Disclosure:
    """The clear personal values of one event, disclosed (and audited)."""

    event_id: UUID
    event_type: str
    customer_id: UUID | None
    fields: dict[str, str | None]


class SubjectErased(Exception):  # application error: 409 on commands, 410 on disclosure
    """The customer whose personal data this would hold or open was erased."""


class KeyWrapper(Protocol):
    """The key-encryption key: wraps customers' data keys for storage, bound to their customer
    (adapters: the local KEK of the settings; a KMS or Vault transit engine can stand in)."""

    @property
    def kek_id(self) -> str:
        """Which key-encryption key wraps (stored beside each wrapped key)."""
        ...

    async def wrap(self, customer_id: UUID, key: bytes) -> bytes: ...

    async def unwrap(self, customer_id: UUID, wrapped: bytes) -> bytes:
        """The data key; raises when `wrapped` is not this customer's key under this KEK."""
        ...


class PersonalData(Protocol):
    """Keys, the erasure journal and disclosures (adapter: adapters/personal_data.py)."""

    async def receipt(self, customer_id: UUID) -> ErasureReceipt | None: ...

    async def key_present(self, customer_id: UUID) -> bool: ...

    async def claims_held(self, customer_id: UUID) -> int: ...

    async def data_keys(self, customer_ids: Collection[UUID]) -> KeyLookup:
        """Journal-checked, never cached."""
        ...

    async def disclose(self, event_id: UUID, actor: dict[str, str]) -> Disclosure | None:
        """None: no such event. SubjectErased when erased. Writes the audit row (with outcome)
        either way."""
        ...


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
        erasure: ErasureRequest | None = None,
    ) -> AppendResult:
        """Append after `expected_version` (else ConcurrencyError), in the same transaction as
        the email claim and the idempotency record; TrackingChanged, and nothing appended, if
        one of the `untracked` stock streams exists. Events holding personal data are sealed
        under their customer's key: SubjectErased, and nothing appended, once that customer
        is erased. `erasure` (with the CustomerErased event): in the same transaction, the
        customer's key and email claims are deleted and the journal row written (read it back
        with `PersonalData.receipt`)."""
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
