"""Shared state of the projections in MongoDB: active version, pause flag, rebuild progress.

Every read-service process and the rebuild command read it, so an operator's pause or a
rebuild's switch reaches all of them.
"""

import time
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from .collections import STATE, Collections


class ControlState:
    """The `projection_state` collection, with a short-lived cache for hot paths."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], *, ttl: float = 0.25) -> None:
        self._coll = db[STATE]
        self._ttl = ttl
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get(self, projection: str, *, fresh: bool = False) -> dict[str, Any]:
        cached = self._cache.get(projection)
        if cached and not fresh and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        doc = await self._coll.find_one_and_update(
            {"_id": projection},
            {"$setOnInsert": {"active_version": 1, "paused": False}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None  # upserted
        self._cache[projection] = (time.monotonic(), doc)
        return doc

    async def collections(self, projection: str) -> Collections:
        state = await self.get(projection)
        return Collections(projection, int(state["active_version"]))

    def cached_collections(self, projection: str) -> Collections:
        cached = self._cache.get(projection)
        version = int(cached[1]["active_version"]) if cached else 1
        return Collections(projection, version)

    async def paused(self, projection: str) -> bool:
        return bool((await self.get(projection)).get("paused"))

    async def set(self, projection: str, **fields: Any) -> None:
        await self.get(projection, fresh=True)
        await self._coll.update_one({"_id": projection}, {"$set": fields})
        self._cache.pop(projection, None)

    async def all(self) -> list[dict[str, Any]]:
        return [doc async for doc in self._coll.find({})]
