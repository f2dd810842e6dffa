"""Projection documents in MongoDB: batch loads and revision-guarded bulk writes.

Every document carries `_rev`, bumped on each write; a write only lands if `_rev` is what was
read. Two writers on one document (replicas, a stale consumer) thus never overwrite each other:
the loser sees a Conflict and folds its batch again from fresh state.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import InsertOne, ReplaceOne, UpdateMany
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from ..projections.base import Doc
from .collections import Collections

DUPLICATE_KEY = 11000


class Conflict(Exception):
    """Another writer changed a document between our read and our write."""


class DocumentStore:
    """Reads and writes one version of one projection's collections.

    `memo` holds what a projection keeps in memory between batches (its rollups); whoever makes
    stores hands the same memo to every store of the same collections, and to no other.
    """

    def __init__(
        self, db: AsyncDatabase[Doc], collections: Collections, memo: dict[str, Any] | None = None
    ) -> None:
        self.db = db
        self.collections = collections
        self.memo: dict[str, Any] = {} if memo is None else memo

    def _coll(self, role: str) -> Any:
        return self.db[self.collections.name(role)]

    async def load(self, role: str, ids: Iterable[str]) -> dict[str, Doc]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        cursor = self._coll(role).find({"_id": {"$in": wanted}})
        return {doc["_id"]: doc async for doc in cursor}

    async def find(self, role: str, field: str, values: Iterable[str]) -> list[Doc]:
        wanted = sorted(set(values))
        if not wanted:
            return []
        return [doc async for doc in self._coll(role).find({field: {"$in": wanted}})]

    async def save(self, role: str, changed: Mapping[str, Doc], loaded: Mapping[str, Doc]) -> None:
        """Write changed documents, each guarded on the `_rev` it was loaded with."""
        ops: list[Any] = []
        for doc_id, doc in changed.items():
            before = loaded.get(doc_id)
            if before is None:
                ops.append(InsertOne({**doc, "_rev": 1}))
            else:
                rev = before.get("_rev", 0)
                ops.append(ReplaceOne({"_id": doc_id, "_rev": rev}, {**doc, "_rev": rev + 1}))
        await self._bulk(role, ops, expected=len(ops))

    async def update_where(self, role: str, ops: list[UpdateMany]) -> None:
        if ops:
            await self._coll(role).bulk_write(ops, ordered=False)

    async def _bulk(self, role: str, ops: list[Any], *, expected: int) -> None:
        if not ops:
            return
        try:
            result = await self._coll(role).bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            codes = {e.get("code") for e in exc.details.get("writeErrors", [])}
            if codes == {DUPLICATE_KEY}:
                raise Conflict(f"{role}: a document was created concurrently") from exc
            raise
        written = result.inserted_count + result.matched_count
        if written != expected:
            raise Conflict(f"{role}: {expected - written} documents changed concurrently")

    async def ensure_indexes(self, indexes: Mapping[str, list[list[tuple[str, int]]]]) -> None:
        for role, specs in indexes.items():
            for keys in specs:
                await self._coll(role).create_index(keys)
