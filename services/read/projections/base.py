"""The shared mechanics of every projection: events in, documents out.

Each document records the stream versions it has applied. Folding an event whose version is
not above that mark is a no-op (duplicates, replays); an event more than one version ahead is a
gap, healed with the missing events the write service gives (`Heal`).

Each projection is one module of this package, behind `Projection`: its folds, its indexes, its
denormalisation and its apply step. Folding is pure; the apply step reads and writes documents
only through the `Store` it is given, and asks for missing events only through `Heal`.
"""

import copy
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from .rollup import Rollups

log = logging.getLogger(__name__)
Doc = dict[str, Any]
Indexes = Mapping[str, list[list[tuple[str, int]]]]  # role -> index keys


@dataclass(frozen=True)
class Event:
    """One event as projections see it: its place in its stream and its (validated) data."""

    event_id: str
    stream_type: str
    stream_id: str
    version: int
    event_type: str
    position: int
    recorded_at: datetime
    data: dict[str, Any]
    # Who caused it (its token's subject), when the write side recorded one: live from the
    # record's `ce_actor` header, in rebuilds and healing from the feed's `metadata.actor`.
    actor: str | None = None
    # The W3C trace context it continues (live from the record's `traceparent` header).
    traceparent: str | None = None

    def with_data(self, data: dict[str, Any]) -> "Event":
        """The same event with other data: a copy of its fields made without the frozen
        `__init__` (whose ten `object.__setattr__` calls cost three times as much)."""
        clone = object.__new__(Event)
        fields = clone.__dict__
        fields.update(self.__dict__)
        fields["data"] = data
        return clone


class Gap(Exception):
    """Events `have + 1 .. want - 1` of a stream are missing before `want` can be applied."""

    def __init__(self, stream_id: str, have: int, want: int) -> None:
        super().__init__(f"stream {stream_id}: have version {have}, got {want}")
        self.stream_id, self.have, self.want = stream_id, have, want


Folder = Callable[[Doc | None, Event], Doc]
Heal = Callable[[str, int], Awaitable[list[Event]]]  # (stream, version held) -> later events


REV = "_rev"


def revision(doc: Doc | None) -> int:
    """The revision of a document as its store holds it (0: not stored yet)."""
    return 0 if doc is None else int(doc.get(REV, 0))


def next_revision(loaded: Doc | None) -> int:
    """The revision of a document written over `loaded` (None: created). Every store numbers
    revisions this way, so what was written can be kept without reading it back."""
    return revision(loaded) + 1


def revised(doc: Doc, loaded: Doc | None) -> Doc:
    """`doc` as its store holds it once written over `loaded`."""
    return {**doc, REV: next_revision(loaded)}


class Store(Protocol):
    """One version of one projection's documents, by role (`main` and auxiliary roles).

    Each document carries `_rev`, bumped on each write (`revised`); `save` writes a changed
    document only if it still has the `_rev` it was loaded with, and raises a conflict otherwise.
    """

    async def load(self, role: str, ids: Iterable[str]) -> dict[str, Doc]: ...

    async def find(self, role: str, field: str, values: Iterable[str]) -> list[Doc]: ...

    async def save(
        self, role: str, changed: Mapping[str, Doc], loaded: Mapping[str, Doc]
    ) -> None: ...


@dataclass
class Outcome:
    """What applying a batch did: events applied, duplicates skipped, gaps healed."""

    applied: int = 0
    skipped: int = 0
    gaps_healed: int = 0


class Projection(Protocol):
    """One projection: its name, its indexes, and how a batch of events changes its documents.

    `memo` is what the projection keeps in memory from one batch to the next for one version of
    its documents (its rollups); whoever applies batches keeps one per version, and starts a new
    one when the version changes.
    """

    @property
    def name(self) -> str: ...

    @property
    def indexes(self) -> Indexes: ...

    @property
    def placeholder_roles(self) -> frozenset[str]:
        """Roles whose documents the events of other streams may create before their own
        stream's first event (a customer known through its orders): for these, a stream whose
        first event is in a batch may still have a document."""
        ...

    @property
    def personal_types(self) -> frozenset[str]:
        """The event types whose personal values it shows: those reach it opened (None where
        the customer was erased); none for a projection that shows no personal data."""
        ...

    async def apply(
        self, store: Store, events: Sequence[Event], heal: Heal, memo: Rollups
    ) -> Outcome: ...


class Wrapped:
    """The part of a projection made of another (`inner`) that is the inner one's: its name,
    indexes and roles. A wrapper adds its own `apply`."""

    def __init__(self, inner: Projection) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def indexes(self) -> Indexes:
        return self.inner.indexes

    @property
    def placeholder_roles(self) -> frozenset[str]:
        return self.inner.placeholder_roles

    @property
    def personal_types(self) -> frozenset[str]:
        return self.inner.personal_types


@dataclass(frozen=True)
class StreamFold:
    """How events of one stream type change one document per stream, in one role."""

    role: str
    stream_type: str
    fold: Folder
    first: str  # the event type that begins a stream
    version_field: str = "version"
    finish: Callable[[Doc], None] | None = None  # derived fields, once per document and batch


@dataclass
class Docs:
    """Documents of one projection by role and id, as loaded, then as changed by folding."""

    loaded: dict[str, dict[str, Doc]] = field(default_factory=dict)
    changed: dict[str, dict[str, Doc]] = field(default_factory=dict)

    def get(self, role: str, doc_id: str) -> Doc | None:
        if doc_id in self.changed.get(role, {}):
            return self.changed[role][doc_id]
        return self.loaded.get(role, {}).get(doc_id)

    def put(self, role: str, doc_id: str, doc: Doc) -> None:
        self.changed.setdefault(role, {})[doc_id] = doc

    def fresh(self) -> "Docs":
        """The loaded state with nothing changed (loaded documents are never mutated)."""
        return Docs(loaded=self.loaded)

    def writable(self, role: str, doc_id: str) -> Doc | None:
        """The document to fold into: a private copy on first touch, then that copy."""
        if doc_id in self.changed.get(role, {}):
            return self.changed[role][doc_id]
        loaded = self.loaded.get(role, {}).get(doc_id)
        return copy.deepcopy(loaded) if loaded is not None else None


def fold_events(
    docs: Docs,
    events: Iterable[Event],
    folds: dict[str, StreamFold],
    healed: dict[str, list[Event]],
) -> tuple[int, int]:
    """Fold events into docs; returns (applied, skipped). Raises Gap when one is missing."""
    applied = skipped = 0
    for event in events:
        spec = folds.get(event.stream_type)
        if spec is None:
            continue
        current = docs.get(spec.role, event.stream_id)
        have = current.get(spec.version_field, 0) if current else 0
        if event.version <= have:
            skipped += 1
            continue
        doc = docs.writable(spec.role, event.stream_id)
        if event.version > have + 1:
            missing = [
                e for e in healed.get(event.stream_id, []) if have < e.version < event.version
            ]
            if [e.version for e in missing] != list(range(have + 1, event.version)):
                raise Gap(event.stream_id, have, event.version)
            for earlier in missing:
                doc = _fold_one(spec, doc, earlier)
            applied += len(missing)
        doc = _fold_one(spec, doc, event)
        docs.put(spec.role, event.stream_id, doc)
        applied += 1
    for spec in folds.values():
        if spec.finish is not None:
            for doc in docs.changed.get(spec.role, {}).values():
                spec.finish(doc)
    return applied, skipped


async def fold_with_healing(
    store: Store, folds: dict[str, StreamFold], events: Sequence[Event], heal: Heal
) -> tuple[Docs, Outcome]:
    """Load the documents the events touch and fold the events into them."""
    ids: dict[str, set[str]] = {spec.role: set() for spec in folds.values()}
    for event in events:
        if event.stream_type in folds:
            ids[folds[event.stream_type].role].add(event.stream_id)
    docs = Docs(loaded={role: await store.load(role, wanted) for role, wanted in ids.items()})
    healed: dict[str, list[Event]] = {}
    outcome = Outcome()
    while True:
        attempt = docs.fresh()
        try:
            outcome.applied, outcome.skipped = fold_events(attempt, events, folds, healed)
            return attempt, outcome
        except Gap as gap:
            if gap.stream_id in healed:
                raise  # the write service does not have the missing versions either
            log.warning("version gap, healing from the write service: %s", gap)
            healed[gap.stream_id] = await heal(gap.stream_id, gap.have)
            outcome.gaps_healed += 1


def stream_ids(events: Sequence[Event], stream_type: str) -> set[str]:
    return {e.stream_id for e in events if e.stream_type == stream_type}


def _fold_one(spec: StreamFold, doc: Doc | None, event: Event) -> Doc:
    if (doc or {}).get(spec.version_field, 0) == 0 and event.event_type != spec.first:
        # Only the stream's first event can start it: anything else cannot be applied.
        raise ValueError(f"{event.event_type} for a {spec.stream_type} that never began")
    doc = spec.fold(doc, event)
    doc[spec.version_field] = event.version
    return doc


def dec(value: str | int | Decimal) -> Decimal:
    return Decimal(value)
