"""A rebuild's documents: in memory first, written to MongoDB in bulk."""

import asyncio
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from pymongo import ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase

from shared.plumbing.tracing import span

from ..application.ports import DEFAULT_BUFFER_BYTES, Conflict
from ..projections.base import Doc, Indexes
from .collection_names import Collections
from .documents import MongoDocumentStore


class MongoBufferedStore(MongoDocumentStore):
    """A rebuild's documents: kept in memory, written to MongoDB in bulk, read back only once
    they had to leave memory.

    Only for collections nobody else writes (a version being rebuilt, under the rebuild lock):
    what this store wrote is then all there is, so a document it never wrote does not exist and
    needs no read. When the documents in memory outgrow `budget_bytes` (as JSON), the least
    recently used half leaves: those changed are written, in the background while folding goes
    on (new ones with `insert_many`), and a later event that touches one reads it back. A
    document that had to be read back is kept from then on, while the budget allows: often
    touched documents (a customer with many orders) are thus written once. Lookups by field use
    an index of ids, built by the first lookup and kept for every document from then on (a role
    that already had documents leave memory by then is flushed and asked in MongoDB instead).
    MongoDB's own indexes are built once, by `build_indexes()`, over the loaded collections,
    which costs less than keeping them up to date on every insert. `flush()` (`write_changed()`
    then `build_indexes()`) must be called before anything else reads the collections.
    """

    def __init__(
        self,
        db: AsyncDatabase[Doc],
        collections: Collections,
        *,
        budget_bytes: int = DEFAULT_BUFFER_BYTES,
    ) -> None:
        super().__init__(db, collections)
        self.budget_bytes = budget_bytes
        self._recency: OrderedDict[tuple[str, str], None] = OrderedDict()  # least recent first
        self._docs: dict[str, OrderedDict[str, tuple[Doc, int]]] = {}  # role -> id -> (doc, size)
        self._bytes = 0  # of the documents in memory
        self._dirty: dict[str, set[str]] = {}
        self._stored: dict[str, set[str]] = {}  # ids written to MongoDB at least once
        self._evicted: set[str] = set()  # roles with documents only in MongoDB
        self._index: dict[tuple[str, str], dict[Any, set[str]]] = {}  # (role, field) -> ids
        self._writing: asyncio.Task[None] | None = None
        self._hot: set[tuple[str, str]] = set()  # read back after leaving: kept if possible
        self._pending_indexes: Indexes = {}
        self.written = 0
        self.read_back = 0  # documents read back from MongoDB after leaving memory

    @property
    def documents(self) -> int:
        """How many documents the collections hold once flushed (this store wrote them all)."""
        return sum(len(ids) for ids in self._stored.values())

    def _mem(self, role: str) -> OrderedDict[str, tuple[Doc, int]]:
        return self._docs.setdefault(role, OrderedDict())

    def _keep(self, role: str, doc_id: str, doc: Doc) -> None:
        mem = self._mem(role)
        size = len(orjson.dumps(doc, default=str))
        _, before = mem.pop(doc_id, (None, 0))
        mem[doc_id] = (doc, size)
        self._bytes += size - before
        self._touch(role, doc_id)

    def _touch(self, role: str, doc_id: str) -> None:
        self._recency[role, doc_id] = None
        self._recency.move_to_end((role, doc_id))

    async def load(self, role: str, ids: Iterable[str]) -> dict[str, Doc]:
        mem, found = self._mem(role), {}
        away = []
        for doc_id in set(ids):
            kept = mem.get(doc_id)
            if kept is not None:
                self._touch(role, doc_id)
                found[doc_id] = kept[0]
            elif doc_id in self._stored.get(role, ()):
                away.append(doc_id)
        if away:
            await self._settled()
            for doc_id, doc in (await super().load(role, away)).items():
                self._keep(role, doc_id, doc)
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
            if role in self._evicted:  # too late to index: make MongoDB complete and ask it
                await self.flush()
                return await super().find(role, field, wanted)
            index = self._index[role, field] = {}
            for doc_id, (doc, _) in self._mem(role).items():
                index.setdefault(doc.get(field), set()).add(doc_id)
        ids = set().union(*(index.get(value, ()) for value in wanted))
        return list((await self.load(role, ids)).values())

    async def save(self, role: str, changed: Mapping[str, Doc], loaded: Mapping[str, Doc]) -> None:
        mem, dirty = self._mem(role), self._dirty.setdefault(role, set())
        for doc_id, doc in changed.items():
            kept, before = mem.get(doc_id), loaded.get(doc_id)
            current = None if kept is None else kept[0]
            if current is not None and current.get("_rev") != (before or {}).get("_rev"):
                raise Conflict(f"{role}: {doc_id} changed since it was loaded")
            if current is None and before is None and doc_id in self._stored.get(role, ()):
                raise Conflict(f"{role}: {doc_id} exists but was not loaded")
            new = {**doc, "_rev": (before or {}).get("_rev", 0) + 1}
            self._reindex(role, doc_id, current or before, new)
            self._keep(role, doc_id, new)
            dirty.add(doc_id)
        if self._bytes > self.budget_bytes:
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
        field that has to ask MongoDB flushes first)."""
        self._pending_indexes = indexes
        existing = set(await self.db.list_collection_names())
        for role in indexes:
            if self.collections.name(role) not in existing:
                await self.db.create_collection(self.collections.name(role))

    async def _relieve(self) -> None:
        """Let the least recently used half of memory go, writing what changed in it.

        Documents read back after an earlier eviction go last: each pass over the recency order
        spares them once, as long as the others are enough.
        """
        await self._settled()
        leaving: dict[str, list[str]] = {}
        spared = 0
        while self._bytes > self.budget_bytes // 2 and self._recency:
            (role, doc_id), _ = self._recency.popitem(last=False)
            if (role, doc_id) in self._hot and spared < len(self._recency):
                self._recency[role, doc_id] = None  # to the most recent end, this pass only
                spared += 1
                continue
            self._hot.discard((role, doc_id))
            _, size = self._docs[role][doc_id]
            self._bytes -= size
            leaving.setdefault(role, []).append(doc_id)
            self._evicted.add(role)
        writes = self._writes(
            {r: [i for i in ids if i in self._dirty.get(r, ())] for r, ids in leaving.items()}
        )
        for role, ids in leaving.items():
            for doc_id in ids:
                del self._docs[role][doc_id]
        self._writing = asyncio.get_running_loop().create_task(self._write(writes))

    def _writes(
        self, chosen: dict[str, list[str]]
    ) -> list[tuple[str, list[Doc], list[ReplaceOne[Doc]]]]:
        """The writes of the chosen changed documents, which are then clean."""
        writes: list[tuple[str, list[Doc], list[ReplaceOne[Doc]]]] = []
        for role, ids in chosen.items():
            if not ids:
                continue
            mem, stored = self._mem(role), self._stored.setdefault(role, set())
            # Saving replaces a document's dict rather than changing it: these stay as they are.
            new = [mem[i][0] for i in ids if i not in stored]
            again = [ReplaceOne({"_id": i}, mem[i][0]) for i in ids if i in stored]
            writes.append((role, new, again))
            stored.update(ids)
            self._dirty[role].difference_update(ids)
            self.written += len(ids)
        return writes

    async def flush(self) -> None:
        """Write every changed document, then build the indexes not built yet."""
        await self.write_changed()
        await self.build_indexes()

    async def write_changed(self) -> None:
        """Write every changed document (the indexes are left to `build_indexes`)."""
        await self._settled()
        await self._write(self._writes({role: list(dirty) for role, dirty in self._dirty.items()}))

    @property
    def indexes_pending(self) -> bool:
        return any(self._pending_indexes.values())

    async def build_indexes(self) -> None:
        """Build MongoDB's indexes not built yet, over what the collections hold now."""
        indexes, self._pending_indexes = self._pending_indexes, {}
        await super().ensure_indexes(indexes)

    async def _write(self, writes: list[tuple[str, list[Doc], list[ReplaceOne[Doc]]]]) -> None:
        for role, new, again in writes:
            name = self.collections.name(role)
            attributes = {"db.collection.name": name, "ordering.documents": len(new) + len(again)}
            with span("documents write", attributes=attributes):
                await self._write_role(role, new, again)

    async def _write_role(self, role: str, new: list[Doc], again: list[ReplaceOne[Doc]]) -> None:
        if new:
            await self._coll(role).insert_many(new, ordered=False)
        if again:
            await self._coll(role).bulk_write(again, ordered=False)

    async def _settled(self) -> None:
        """Wait for the background writes; their failure is this call's failure."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            await writing
