"""What the read side's application needs from the outside world; adapters implement these.

Adapters translate their drivers' failures: `Unavailable` when the infrastructure failed and the
same work should be tried again later, `Conflict` when another writer got to a document first,
`Refused` when the store refused the work itself.
Anything else a port raises is a failure of the work itself.
"""

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..projections.base import Doc, Event, Indexes, Store

Partition = tuple[str, int]  # (topic, partition)


class Unavailable(Exception):
    """The infrastructure failed (MongoDB, the broker, the write service): try again later."""


class Refused(Exception):
    """The store answered and refused the work itself (a document it cannot hold, a command it
    rejects): the same work as it is will be refused again."""


class Conflict(Exception):
    """Another writer changed a document between our read and our write: fold again.

    `ids` names the documents of the write that did not land, when the store can tell (every
    other one did); empty when it cannot, and then any of them may or may not have landed.
    """

    def __init__(self, message: str, ids: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.ids = frozenset(ids)


class Undecodable(ValueError):
    """The record is not an event of ours: not JSON, headers missing, or data invalid."""


class UnknownType(ValueError):
    """A well-formed event of a type this version does not know (skipped, counted)."""


@dataclass(frozen=True)
class Delivered:
    """A record as received, kept for dead letters and offsets."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int


Decode = Callable[[Delivered], Event]  # raises Undecodable or UnknownType


class RecordSource(Protocol):
    """One projection's share of the topics: its consumer group's records, in partition order.

    `generation` changes whenever the partitions this consumer is given change (a rebalance):
    what it kept of their documents may then have been written by another consumer.
    """

    generation: int

    async def poll(self, max_records: int) -> list[Delivered]:
        """The next records (a short wait when there are none); empty when none came."""
        ...

    async def more(self, max_records: int) -> list[Delivered]:
        """Records already there or arriving within a moment; empty when none came."""
        ...

    async def commit(self, offsets: Mapping[Partition, int]) -> bool:
        """Commit the next offsets to read; False when refused (the partitions moved to
        another consumer, which will deliver the records again)."""
        ...

    def hold(self, held: bool) -> None:
        """Stop (or resume) fetching on every partition this consumer has or will be given."""
        ...


OpenSource = Callable[[str], AbstractAsyncContextManager[RecordSource]]


class DocumentStore(Store, Protocol):
    """One version of one projection's documents."""

    async def ensure_indexes(self, indexes: Indexes) -> None: ...


class BulkStore(DocumentStore, Protocol):
    """A version written by one writer only (being rebuilt, under the rebuild lock): its
    collections created bare, filled in bulk without revision guards, indexed once filled."""

    async def create(self, roles: Iterable[str]) -> None:
        """The collections of these roles, without their indexes."""
        ...

    async def write(self, role: str, new: Sequence[Doc], replaced: Sequence[Doc]) -> None:
        """Insert `new` documents, replace the others by id, as they are (with their `_rev`)."""
        ...


class Versions(Protocol):
    """Where the versions of each projection's documents live."""

    def live(self, projection: str, version: int) -> DocumentStore: ...

    def bulk(self, projection: str, version: int) -> BulkStore:
        """A version being rebuilt."""
        ...

    async def drop_except(self, projection: str, keep: int) -> None:
        """Drop every version of the projection but `keep`."""
        ...


class Observer(Protocol):
    """What the projections' application reports as it goes (metrics are made of it)."""

    def applied(
        self,
        projection: str,
        *,
        applied: int,
        skipped: int,
        gaps_healed: int,
        latencies: Sequence[float],
        position: int,
    ) -> None:
        """A batch written: events applied, duplicates skipped, gaps healed, each event's
        seconds from recorded to applied, and the highest position applied so far."""
        ...

    def unknown_type(self, projection: str, event_type: str) -> None:
        """An event of a type this version does not know, skipped."""
        ...

    def dead_letter(self, projection: str) -> None:
        """A record sent to the dead letters."""
        ...

    def rebuild_progress(self, projection: str, ratio: float) -> None:
        """How far a running rebuild is (0..1)."""
        ...


class Unobserved:
    """An observer that keeps nothing."""

    def applied(
        self,
        projection: str,
        *,
        applied: int,
        skipped: int,
        gaps_healed: int,
        latencies: Sequence[float],
        position: int,
    ) -> None:
        pass

    def unknown_type(self, projection: str, event_type: str) -> None:
        pass

    def dead_letter(self, projection: str) -> None:
        pass

    def rebuild_progress(self, projection: str, ratio: float) -> None:
        pass


class DeadLetterSink(Protocol):
    async def ensure_indexes(self) -> None: ...

    async def add(
        self, projection: str, record: Delivered, error: str, *, attempts: int = 1
    ) -> None: ...


class StreamReader(Protocol):
    """The write service's streams: what heals a version gap."""

    async def stream_events(self, stream_id: str, *, after_version: int) -> list[Event]: ...


class KeyRing(Protocol):
    """The customers' data keys, as the ciphers that open their personal values (raises
    Unavailable when they cannot be had right now). Whatever keeps them keeps them in memory
    only, for a bounded time."""

    async def keys(self, customer_ids: Collection[str]) -> Mapping[str, AESGCM | None]:
        """A cipher for each customer asked for; None for a customer who was erased (their key
        is gone) or has no key."""
        ...

    def forget(self, customer_id: str) -> None:
        """Drop what is kept of the customer's key (they were erased)."""
        ...


@dataclass(frozen=True)
class LogPage:
    """A page of the log: the events its rows hold for the projections, and how many rows were
    passed over (the write service's internal streams; events of types unknown here, whose
    types `unknown` lists)."""

    events: list[Event]
    next: str | None
    has_more: bool
    passed_over: int = 0
    unknown: Sequence[str] = ()


class EventLog(StreamReader, Protocol):
    """The write service's whole log, in commit order: what a rebuild replays."""

    async def head_position(self) -> int: ...

    async def page(self, after: str | None, limit: int) -> LogPage: ...


class Lock(Protocol):
    """A rebuild's lease on its projection, with its progress."""

    async def acquire(self, **fields: Any) -> dict[str, Any] | None: ...

    async def update(self, **fields: Any) -> None: ...

    async def release(self, **fields: Any) -> None: ...


class Control(Protocol):
    """The projections' shared state: active version, pauses, positions, rebuild locks."""

    async def get(self, projection: str, *, fresh: bool = False) -> dict[str, Any]: ...

    async def active_version(self, projection: str) -> int: ...

    async def paused(self, projection: str) -> bool: ...

    async def ack(self, projection: str, instance: str, *, paused: bool) -> None: ...

    async def advance(self, projection: str, position: int) -> None: ...

    async def all_paused(self, projection: str) -> bool: ...

    async def set(self, projection: str, **fields: Any) -> None: ...

    def lock(self, projection: str) -> Lock: ...
