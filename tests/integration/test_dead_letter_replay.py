"""`make dead-letters REPLAY=1`: dead letters that can now be applied are, and leave the list."""

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pymongo import AsyncMongoClient

from services.read.adapters.dead_letters import DeadLetters
from services.read.application.ports import Delivered
from services.read.cli import dead_letters
from services.read.settings import ReadSettings
from shared.contracts.cloudevents import to_headers
from shared.contracts.envelope import EventMetadata, RecordedEvent
from tests.backends import Backend


def delivered(offset: int, event_type: str, data: dict[str, Any], version: int = 1) -> Delivered:
    event = RecordedEvent(
        position=offset + 1,
        transaction_id=1,
        event_id=uuid.uuid4(),
        stream_type="customer",
        stream_id=uuid.uuid4(),
        version=version,
        event_type=event_type,
        schema_version=1,
        data=data,
        metadata=EventMetadata(),
        recorded_at=datetime.now(UTC),
    )
    return Delivered(
        topic="customers.events",
        partition=0,
        offset=offset,
        key=str(event.stream_id).encode(),
        value=orjson.dumps(data),
        headers=tuple(to_headers(event, source="/test")),
        timestamp_ms=0,
    )


async def test_replay_applies_what_it_can_and_keeps_the_rest(mongo: Backend) -> None:
    settings = ReadSettings(
        mongodb_url=mongo.url,
        mongodb_database=f"replay_{uuid.uuid4().hex[:10]}",
        write_service_url="http://127.0.0.1:9",  # not needed: no gap to heal
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo.url, tz_aware=True)
    db = client[settings.mongodb_database]
    try:
        letters = DeadLetters(db)
        good = delivered(0, "CustomerRegistered", {"name": "Ada", "email": "ada@x.io"})
        still_bad = delivered(1, "CustomerRenamed", {"name": ""})  # fails validation again
        await letters.add("customers", good, "MongoDB was down")
        await letters.add("customers", still_bad, "invalid data")
        assert await dead_letters(settings, replay=True, projection="customers") == 1
        remaining = await letters.list("customers")
        assert [d["offset"] for d in remaining] == [1]
        customer = await db["customers_v1"].find_one({"_id": (good.key or b"").decode()})
        assert customer is not None and (customer["name"], customer["version"]) == ("Ada", 1)
    finally:
        await client.drop_database(settings.mongodb_database)
        await client.close()
