"""Projection documents in MongoDB: batch loads and revision-guarded bulk writes.

Every document carries `_rev`, bumped on each write; a write only lands if `_rev` is what was
read. Two writers on one document (replicas, a stale consumer) thus never overwrite each other:
the loser sees a Conflict and folds its batch again from fresh state. A version being rebuilt
(one writer, under the rebuild lock) is also written unguarded, in bulk (`write`), its
collections created bare and indexed once filled.
"""

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.plumbing.tracing import span

from ..application.ports import Conflict
from ..projections.base import Doc, Indexes, revised, revision
from .collection_names import Collections
from .mongo import unavailable_when_unreachable

DUPLICATE_KEY = 11000
# Lookups by `$in` go in chunks of this many values, sent together. The embedded MongoDB server
# checks each candidate against the whole `$in` list, so one lookup of n values costs O(n²):
# per document, 645 µs at 400 values a query against 117 µs at 25 (10,000 documents).
IN_CHUNK = 25
IN_FLIGHT = 4


class MongoDocumentStore:
    """Reads and writes one version of one projection's collections (a `BulkStore`).

    MongoDB out of reach is `Unavailable`, a document changed by another writer a `Conflict`.
    """

    def __init__(self, db: AsyncDatabase[Doc], collections: Collections) -> None:
        self.db = db
        self.collections = collections

    def _coll(self, role: str) -> Any:
        return self.db[self.collections.name(role)]

    async def load(self, role: str, ids: Iterable[str]) -> dict[str, Doc]:
        return {doc["_id"]: doc for doc in await self._lookup(role, "_id", ids)}

    async def find(self, role: str, field: str, values: Iterable[str]) -> list[Doc]:
        return await self._lookup(role, field, values)

    async def _lookup(self, role: str, field: str, values: Iterable[str]) -> list[Doc]:
        """The documents whose `field` is one of `values`."""
        wanted = sorted(set(values))
        coll = self._coll(role)
        chunks = [wanted[i : i + IN_CHUNK] for i in range(0, len(wanted), IN_CHUNK)]
        found: list[Doc] = []
        for i in range(0, len(chunks), IN_FLIGHT):  # a few at a time: one connection each
            queries = (coll.find({field: {"$in": c}}).to_list() for c in chunks[i : i + IN_FLIGHT])
            with unavailable_when_unreachable():
                found += [doc for docs in await asyncio.gather(*queries) for doc in docs]
        return found

    async def save(self, role: str, changed: Mapping[str, Doc], loaded: Mapping[str, Doc]) -> None:
        """Write changed documents, each guarded on the `_rev` it was loaded with."""
        ops: list[Any] = []
        ids = list(changed)
        for doc_id, doc in changed.items():
            before = loaded.get(doc_id)
            if before is None:
                ops.append(InsertOne(revised(doc, None)))
            else:
                guard = {"_id": doc_id, "_rev": revision(before)}
                ops.append(ReplaceOne(guard, revised(doc, before)))
        await self._bulk(role, ops, ids)

    async def _bulk(self, role: str, ops: list[Any], ids: list[str]) -> None:
        """Unordered: every write is tried. When the only failures are inserts of documents
        that exist, and every other write landed, the Conflict names the ones that failed."""
        if not ops:
            return
        expected = len(ops)
        name = self.collections.name(role)
        attributes = {"db.collection.name": name, "ordering.documents": expected}
        with unavailable_when_unreachable():  # what is not a conflict below, in our terms
            try:
                with span("documents write", attributes=attributes):
                    result = await self._coll(role).bulk_write(ops, ordered=False)
            except BulkWriteError as exc:
                conflict = self._conflict(role, exc, ids)
                if conflict is None:
                    raise
                raise conflict from exc
        written = result.inserted_count + result.matched_count
        if written != expected:
            raise Conflict(f"{role}: {expected - written} documents changed concurrently")

    @staticmethod
    def _conflict(role: str, exc: BulkWriteError, ids: list[str]) -> Conflict | None:
        """A write that failed only on inserts of documents that exist: a Conflict (naming them
        when every other write landed); None for any other failure."""
        errors = exc.details.get("writeErrors", [])
        if {e.get("code") for e in errors} != {DUPLICATE_KEY}:
            return None
        landed = exc.details.get("nInserted", 0) + exc.details.get("nMatched", 0)
        failed = [ids[e["index"]] for e in errors] if landed + len(errors) == len(ids) else []
        return Conflict(f"{role}: {len(errors)} documents were created concurrently", failed)

    async def write(self, role: str, new: Sequence[Doc], replaced: Sequence[Doc]) -> None:
        """Unguarded (one writer): insert `new` documents, replace the others by `_id`."""
        attributes = {
            "db.collection.name": self.collections.name(role),
            "ordering.documents": len(new) + len(replaced),
        }
        with span("documents write", attributes=attributes), unavailable_when_unreachable():
            if new:
                await self._coll(role).insert_many(new, ordered=False)
            if replaced:
                again = [ReplaceOne({"_id": doc["_id"]}, doc) for doc in replaced]
                await self._coll(role).bulk_write(again, ordered=False)

    async def create(self, roles: Iterable[str]) -> None:
        """The collections of these roles, without their indexes."""
        with unavailable_when_unreachable():
            existing = set(await self.db.list_collection_names())
            for role in roles:
                if self.collections.name(role) not in existing:
                    await self.db.create_collection(self.collections.name(role))

    async def ensure_indexes(self, indexes: Indexes) -> None:
        for role, specs in indexes.items():
            for keys in specs:
                with unavailable_when_unreachable():
                    await self._coll(role).create_index(keys)
