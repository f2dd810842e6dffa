"""The shared mechanics of every projection: events in, documents out, no I/O.

Each document records the stream versions it has applied. Folding an event whose version is
not above that mark is a no-op (duplicates, replays); an event more than one version ahead is a
gap, which the caller heals by supplying the missing events.
"""

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.contracts.money import quantize

Doc = dict[str, Any]


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


class Gap(Exception):
    """Events `have + 1 .. want - 1` of a stream are missing before `want` can be applied."""

    def __init__(self, stream_id: str, have: int, want: int) -> None:
        super().__init__(f"stream {stream_id}: have version {have}, got {want}")
        self.stream_id, self.have, self.want = stream_id, have, want


Folder = Callable[[Doc | None, Event], Doc]


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


def _fold_one(spec: StreamFold, doc: Doc | None, event: Event) -> Doc:
    if (doc or {}).get(spec.version_field, 0) == 0 and event.event_type != spec.first:
        # Only the stream's first event can start it: anything else cannot be applied.
        raise ValueError(f"{event.event_type} for a {spec.stream_type} that never began")
    doc = spec.fold(doc, event)
    doc[spec.version_field] = event.version
    return doc


def money(value: Decimal) -> str:
    return str(quantize(value))


def dec(value: str | int | Decimal) -> Decimal:
    return Decimal(value)
