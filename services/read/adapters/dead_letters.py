"""Dead letters: records a projection could not apply, kept raw with the error, replayable."""

from datetime import UTC, datetime
from typing import Any

from bson import Binary
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from ..application.ports import Delivered
from .collection_names import DEAD_LETTERS
from .mongo import unavailable_on_error


class DeadLetters:
    """One document per (projection, topic, partition, offset): a redelivery does not add one."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._coll = db[DEAD_LETTERS]

    @unavailable_on_error
    async def ensure_indexes(self) -> None:
        await self._coll.create_index([("projection", ASCENDING), ("failed_at", ASCENDING)])

    @unavailable_on_error
    async def add(
        self, projection: str, record: Delivered, error: str, *, attempts: int = 1
    ) -> None:
        key = f"{projection}:{record.topic}:{record.partition}:{record.offset}"
        doc = {
            "projection": projection,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "key": Binary(record.key) if record.key is not None else None,
            "value": Binary(record.value) if record.value is not None else None,
            "headers": [[k, Binary(v)] for k, v in record.headers],
            "timestamp_ms": record.timestamp_ms,
            "error": error[:2000],
            "failed_at": datetime.now(UTC),
        }
        # attempts: how many times it was applied and failed, replays by operators included
        update = {"$set": doc, "$inc": {"attempts": attempts}}
        await self._coll.update_one({"_id": key}, update, upsert=True)

    @unavailable_on_error
    async def count(self, projection: str | None = None) -> int:
        query = {} if projection is None else {"projection": projection}
        return await self._coll.count_documents(query)

    @unavailable_on_error
    async def list(self, projection: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        query = {} if projection is None else {"projection": projection}
        cursor = self._coll.find(query).sort("failed_at", ASCENDING).limit(limit)
        return [doc async for doc in cursor]

    @unavailable_on_error
    async def get(self, key: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self._coll.find_one({"_id": key})
        return found

    @unavailable_on_error
    async def remove(self, key: str) -> None:
        await self._coll.delete_one({"_id": key})

    @unavailable_on_error
    async def failed_again(self, key: str, error: str) -> None:
        """A replay that failed: one attempt more, and its error."""
        values = {"error": error[:2000], "failed_at": datetime.now(UTC)}
        await self._coll.update_one({"_id": key}, {"$set": values, "$inc": {"attempts": 1}})


def as_delivered(doc: dict[str, Any]) -> Delivered:
    """Rebuild the original record from a dead letter, to apply it again."""
    return Delivered(
        topic=doc["topic"],
        partition=doc["partition"],
        offset=doc["offset"],
        key=bytes(doc["key"]) if doc.get("key") is not None else None,
        value=bytes(doc["value"]) if doc.get("value") is not None else None,
        headers=tuple((k, bytes(v)) for k, v in doc.get("headers", [])),
        timestamp_ms=doc.get("timestamp_ms", 0),
    )
