"""In-memory doubles of the read service's ports, for unit tests."""

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.read.application.ports import (
    Conflict,
    Delivered,
    LogPage,
    Unavailable,
)
from services.read.projections.base import Doc, Event, Indexes, revised, revision
from shared.contracts.personal import new_data_key, seal, subject_of


class FakeStore:
    """A projection version's documents in dicts, with the real store's `_rev` guard, and its
    unguarded bulk writes (a version being rebuilt).

    `fail` is asked before every operation ("load", "find", "save", "write", ...) and may raise
    (an outage).
    """

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Doc]] = {}
        self.saves = 0
        self.writes = 0  # documents written unguarded
        self.indexed: set[str] = set()  # roles whose indexes were built
        self.loaded: list[tuple[str, str]] = []  # (role, id) of every document asked for by id
        self.fail: Callable[[str], None] = lambda op: None

    def role(self, role: str) -> dict[str, Doc]:
        return self.docs.setdefault(role, {})

    async def load(self, role: str, ids: Iterable[str]) -> dict[str, Doc]:
        self.fail("load")
        ids = set(ids)
        self.loaded += sorted((role, i) for i in ids)
        found = self.role(role)
        return {i: copy.deepcopy(found[i]) for i in set(ids) if i in found}

    async def find(self, role: str, field: str, values: Iterable[str]) -> list[Doc]:
        self.fail("find")
        wanted = set(values)
        return [copy.deepcopy(d) for d in self.role(role).values() if d.get(field) in wanted]

    async def save(self, role: str, changed: Mapping[str, Doc], loaded: Mapping[str, Doc]) -> None:
        self.fail("save")
        if not changed:
            return
        stored, lost, duplicates = self.role(role), 0, []
        for doc_id, doc in changed.items():  # unordered, like a bulk write: the rest still land
            before = loaded.get(doc_id)
            if revision(stored.get(doc_id)) != revision(before):
                lost += 1
                if before is None:
                    duplicates.append(doc_id)
                continue
            stored[doc_id] = revised(copy.deepcopy(doc), before)
        self.saves += 1
        if lost:  # like the real store, it names the losers when all were duplicate inserts
            named = duplicates if len(duplicates) == lost else []
            raise Conflict(f"{role}: {lost} documents changed concurrently", named)

    async def ensure_indexes(self, indexes: Indexes) -> None:
        self.fail("ensure_indexes")
        self.indexed.update(role for role, specs in indexes.items() if specs)

    async def create(self, roles: Iterable[str]) -> None:
        self.fail("create")
        for role in roles:
            self.role(role)

    async def write(self, role: str, new: Sequence[Doc], replaced: Sequence[Doc]) -> None:
        self.fail("write")
        stored = self.role(role)
        for doc in new:
            if doc["_id"] in stored:
                raise AssertionError(f"{role}: {doc['_id']} inserted twice")
            stored[doc["_id"]] = copy.deepcopy(doc)
        for doc in replaced:
            stored[doc["_id"]] = copy.deepcopy(doc)
        self.writes += len(new) + len(replaced)


class FakeVersions:
    """One FakeStore per (projection, version)."""

    def __init__(self) -> None:
        self.stores: dict[tuple[str, int], FakeStore] = {}

    def live(self, projection: str, version: int) -> FakeStore:
        return self.stores.setdefault((projection, version), FakeStore())

    def bulk(self, projection: str, version: int) -> FakeStore:
        return self.live(projection, version)

    async def drop_except(self, projection: str, keep: int) -> None:
        self.stores = {k: v for k, v in self.stores.items() if k[0] != projection or k[1] == keep}


class FakeControl:
    """The projections' shared state of one projection (a rebuild's switch sets `version`)."""

    def __init__(self) -> None:
        self.version = 1
        self.is_paused = False
        self.acks: list[tuple[str, str, bool]] = []
        self.positions: dict[str, int] = {}
        self.changes: list[dict[str, Any]] = []  # every `set`, in order
        self.locks: dict[str, FakeLock] = {}

    async def get(self, projection: str, *, fresh: bool = False) -> dict[str, Any]:
        return {"active_version": self.version, "paused": self.is_paused}

    async def active_version(self, projection: str) -> int:
        return self.version

    async def paused(self, projection: str) -> bool:
        return self.is_paused

    async def ack(self, projection: str, instance: str, *, paused: bool) -> None:
        self.acks.append((projection, instance, paused))

    async def advance(self, projection: str, position: int) -> None:
        self.positions[projection] = max(self.positions.get(projection, 0), position)

    async def all_paused(self, projection: str) -> bool:
        return True

    async def set(self, projection: str, **fields: Any) -> None:
        self.changes.append(fields)
        self.version = fields.get("active_version", self.version)
        if "paused_until" in fields:
            self.is_paused = fields["paused_until"] is not None

    def lock(self, projection: str) -> "FakeLock":
        return self.locks.setdefault(projection, FakeLock())


@dataclass
class FakeLock:
    """A rebuild's lock: every update of its fields, and whether it is held."""

    held: bool = False
    updates: list[dict[str, Any]] = field(default_factory=list)

    async def acquire(self, **fields: Any) -> dict[str, Any] | None:
        assert not self.held, "a second rebuild of the same projection"
        self.held = True
        self.updates.append(fields)
        return None

    async def update(self, **fields: Any) -> None:
        assert self.held
        self.updates.append(fields)

    async def release(self, **fields: Any) -> None:
        self.held = False
        self.updates.append(fields)


class FakeDeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[str, Delivered, str]] = []

    async def ensure_indexes(self) -> None:
        pass

    async def add(
        self, projection: str, record: Delivered, error: str, *, attempts: int = 1
    ) -> None:
        self.letters.append((projection, record, error))


class FakeStreams:
    """The write service's streams: what it would answer to a gap's healing."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.events = list(events)
        self.asked: list[tuple[str, int]] = []

    async def stream_events(self, stream_id: str, *, after_version: int) -> list[Event]:
        self.asked.append((stream_id, after_version))
        found = [e for e in self.events if e.stream_id == stream_id and e.version > after_version]
        return sorted(found, key=lambda e: e.version)


class FakeLog(FakeStreams):
    """The write service's whole log, in the order given, served in pages (`page_size` at most,
    whatever the limit asked) as `GET /events` serves them; its streams heal gaps."""

    def __init__(self, events: Iterable[Event] = (), page_size: int | None = None) -> None:
        super().__init__(events)
        self.page_size = page_size
        self.pages = 0

    async def head_position(self) -> int:
        return max((e.position for e in self.events), default=0)

    async def page(self, after: str | None, limit: int) -> LogPage:
        start = int(after or 0)
        end = start + min(limit, self.page_size or limit)
        self.pages += 1
        return LogPage(self.events[start:end], str(end), end < len(self.events))


@dataclass
class FakeObserver:
    """What the application reported, by kind: (projection, figures) in order."""

    batches: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    progress: list[tuple[str, float]] = field(default_factory=list)

    def applied(self, projection: str, **figures: Any) -> None:
        self.batches.append({"projection": projection, **figures})

    def unknown_type(self, projection: str, event_type: str) -> None:
        self.unknown.append((projection, event_type))

    def dead_letter(self, projection: str) -> None:
        self.dead.append(projection)

    def rebuild_progress(self, projection: str, ratio: float) -> None:
        self.progress.append((projection, ratio))

    def total(self, figure: str) -> int:
        return sum(int(batch[figure]) for batch in self.batches)


class Outage:
    """MongoDB unreachable for the operations chosen, until `end()`."""

    def __init__(self, *, after_saves: int = 0) -> None:
        self.after_saves = after_saves
        self.saves = 0
        self.down = False
        self.refused = 0

    def __call__(self, op: str) -> None:
        if op == "save" and not self.down:
            self.saves += 1
            self.down = self.saves > self.after_saves
        if self.down:
            self.refused += 1
            raise Unavailable("MongoDB: connection refused")

    def end(self) -> None:
        self.down, self.after_saves = False, 10**9


class FakeKeyRing:
    """The customers' keys in a dict: the ids of every call to `keys`, and those forgotten."""

    def __init__(self) -> None:
        self.ciphers: dict[str, AESGCM] = {}
        self.asked: list[set[str]] = []
        self.forgotten: list[str] = []

    def key_for(self, customer_id: str) -> AESGCM:
        return self.ciphers.setdefault(customer_id, AESGCM(new_data_key()))

    def destroy(self, customer_id: str) -> None:
        """The customer's key is gone (their erasure)."""
        self.ciphers.pop(customer_id, None)

    def sealed(self, event: Event) -> Event:
        """The event as the log holds it: its personal values sealed under its customer's key."""
        subject = subject_of(event.event_type, event.stream_type, event.stream_id, event.data)
        if subject is None:
            return event
        key = self.key_for(subject)
        data = seal(event.data, event.event_type, key, subject=subject, event_id=event.event_id)
        return Event(**{**event.__dict__, "data": data})

    async def keys(self, customer_ids: Iterable[str]) -> dict[str, AESGCM | None]:
        wanted = set(customer_ids)
        self.asked.append(wanted)
        return {c: self.ciphers.get(c) for c in wanted}

    def forget(self, customer_id: str) -> None:
        self.forgotten.append(customer_id)
