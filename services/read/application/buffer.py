"""A rebuild's documents: in memory first (revisioned.py), written to their store in bulk."""

import asyncio
from collections.abc import Iterable, Mapping

import orjson

from ..projections.base import Doc, Indexes
from .ports import BulkStore, Conflict
from .revisioned import Key, RevisionedDocuments

# What a rebuild keeps of the new version's documents in memory (as JSON), unless told otherwise
# (REBUILD_BUFFER_MB).
DEFAULT_BUFFER_BYTES = 8_000_000
Writes = tuple[str, list[Doc], list[Doc]]  # role, documents to insert, documents to replace


def json_size(doc: Doc) -> int:
    return len(orjson.dumps(doc, default=str))


class BufferedStore:
    """A rebuild's documents: kept in memory, written to the store in bulk, read back only once
    they had to leave memory.

    Only for collections nobody else writes (a version being rebuilt, under the rebuild lock):
    what this store wrote is then all there is, so a document it never wrote does not exist and
    needs no read. When the documents in memory outgrow `budget_bytes` (as JSON), the least
    recently used half leaves: those changed are written, in the background while folding goes
    on, and a later event that touches one reads it back. A document that had to be read back
    is kept from then on, while the budget allows: often touched documents (a customer with many
    orders) are thus written once. Lookups by field use an index of ids, built by the first
    lookup and kept for every document from then on (a role that already had documents leave
    memory by then is flushed and asked in the store instead). The store's own indexes are built
    once, by `build_indexes()`, over the filled collections, which costs less than keeping them
    up to date on every insert. `flush()` (`write_changed()` then `build_indexes()`) must be
    called before anything else reads the collections.
    """

    def __init__(self, inner: BulkStore, *, budget_bytes: int = DEFAULT_BUFFER_BYTES) -> None:
        self.inner = inner
        self.budget_bytes = budget_bytes
        self.memory = RevisionedDocuments(weigh=json_size)
        self._dirty: dict[str, set[str]] = {}
        self._stored: dict[str, set[str]] = {}  # ids written to the store at least once
        self._evicted: set[str] = set()  # roles with documents only in the store
        self._index: dict[tuple[str, str], dict[object, set[str]]] = {}  # (role, field) -> ids
        self._writing: asyncio.Task[None] | None = None
        self._hot: set[Key] = set()  # read back after leaving: kept if possible
        self._pending_indexes: Indexes = {}
        self.written = 0
        self.read_back = 0  # documents read back from the store after leaving memory

    @property
    def documents(self) -> int:
        """How many documents the collections hold once flushed (this store wrote them all)."""
        return sum(len(ids) for ids in self._stored.values())

    async def load(self, role: str, ids: Iterable[str]) -> dict[str, Doc]:
        found, away = {}, []
        stored = self._stored.get(role, ())
        for doc_id in set(ids):
            kept = self.memory.get(role, doc_id)
            if kept is not None:
                found[doc_id] = kept
            elif doc_id in stored:
                away.append(doc_id)
        if away:
            await self._settled()
            for doc_id, doc in (await self.inner.load(role, away)).items():
                self.memory.put(role, doc_id, doc)
                self._hot.add((role, doc_id))
                self.read_back += 1
                found[doc_id] = doc
        return found

    async def find(self, role: str, field: str, values: Iterable[str]) -> list[Doc]:
        wanted = set(values)
        if not wanted:
            return []
        index = self._index.get((role, field))
        if index is None:
            if role in self._evicted:  # too late to index: make the store complete and ask it
                await self.flush()
                return await self.inner.find(role, field, wanted)
            index = self._index[role, field] = {}
            for doc_id, doc in self.memory.of_role(role):
                index.setdefault(doc.get(field), set()).add(doc_id)
        ids = set().union(*(index.get(value, ()) for value in wanted))
        return list((await self.load(role, ids)).values())

    async def save(self, role: str, changed: Mapping[str, Doc], loaded: Mapping[str, Doc]) -> None:
        dirty, stored = self._dirty.setdefault(role, set()), self._stored.get(role, ())
        for doc_id, doc in changed.items():
            before = loaded.get(doc_id)
            self.memory.check(role, doc_id, before)
            current = self.memory.peek(role, doc_id)
            if current is None and before is None and doc_id in stored:
                raise Conflict(f"{role}: {doc_id} exists but was not loaded")
            new = self.memory.keep_written(role, doc_id, doc, before)
            self._reindex(role, doc_id, current or before, new)
            dirty.add(doc_id)
        if self.memory.weight > self.budget_bytes:
            await self._relieve()

    def _reindex(self, role: str, doc_id: str, old: Doc | None, new: Doc) -> None:
        """Move a document to its new values in the field indexes of its role."""
        for (indexed, field), index in self._index.items():
            if indexed != role:
                continue
            if old is not None:
                if old.get(field) == new.get(field):
                    continue
                index.get(old.get(field), set()).discard(doc_id)
            index.setdefault(new.get(field), set()).add(doc_id)

    async def ensure_indexes(self, indexes: Indexes) -> None:
        """Create the collections now, and build their indexes at the first flush (a lookup by
        field that has to ask the store flushes first)."""
        self._pending_indexes = indexes
        await self.inner.create(indexes)

    async def _relieve(self) -> None:
        """Let the least recently used half of memory go, writing what changed in it.

        Documents read back after an earlier eviction go last: each pass over the recency order
        spares them once, as long as the others are enough.
        """
        await self._settled()
        leaving: dict[str, dict[str, Doc]] = {}
        spared = 0
        while self.memory.weight > self.budget_bytes // 2:
            key = self.memory.least_recent()
            if key is None:
                break
            if key in self._hot and spared < len(self.memory) - 1:
                self.memory.refresh(key)  # to the most recent end, this pass only
                spared += 1
                continue
            self._hot.discard(key)
            role, doc_id = key
            leaving.setdefault(role, {})[doc_id] = self.memory.pop(key) or {}
            self._evicted.add(role)
        writes = self._writes(
            {
                role: {i: d for i, d in docs.items() if i in self._dirty.get(role, ())}
                for role, docs in leaving.items()
            }
        )
        self._writing = asyncio.get_running_loop().create_task(self._write(writes))

    def _writes(self, chosen: Mapping[str, Mapping[str, Doc]]) -> list[Writes]:
        """The writes of the chosen changed documents, which are then clean."""
        writes: list[Writes] = []
        for role, docs in chosen.items():
            if not docs:
                continue
            stored = self._stored.setdefault(role, set())
            # Saving replaces a document's dict rather than changing it: these stay as they are.
            new = [doc for doc_id, doc in docs.items() if doc_id not in stored]
            again = [doc for doc_id, doc in docs.items() if doc_id in stored]
            writes.append((role, new, again))
            stored.update(docs)
            self._dirty[role].difference_update(docs)
            self.written += len(docs)
        return writes

    async def flush(self) -> None:
        """Write every changed document, then build the indexes not built yet."""
        await self.write_changed()
        await self.build_indexes()

    async def write_changed(self) -> None:
        """Write every changed document (the indexes are left to `build_indexes`)."""
        await self._settled()
        chosen: dict[str, dict[str, Doc]] = {}
        for role, dirty in self._dirty.items():
            kept = ((doc_id, self.memory.peek(role, doc_id)) for doc_id in dirty)
            chosen[role] = {doc_id: doc for doc_id, doc in kept if doc is not None}
        await self._write(self._writes(chosen))

    @property
    def indexes_pending(self) -> bool:
        return any(self._pending_indexes.values())

    async def build_indexes(self) -> None:
        """Build the store's indexes not built yet, over what the collections hold now."""
        indexes, self._pending_indexes = self._pending_indexes, {}
        await self.inner.ensure_indexes(indexes)

    async def _write(self, writes: list[Writes]) -> None:
        for role, new, again in writes:
            await self.inner.write(role, new, again)

    async def _settled(self) -> None:
        """Wait for the background writes; their failure is this call's failure."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            await writing
