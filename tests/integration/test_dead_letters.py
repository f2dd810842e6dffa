"""Records a projection cannot apply go to dead letters; unknown types are skipped; the consumer
carries on with the records behind them. Over real Kafka and MongoDB-protocol servers.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.read.adapters.control import ControlState
from services.read.bootstrap import ReadService, bootstrap
from services.read.settings import ReadSettings
from shared.contracts.cloudevents import Headers, to_headers
from shared.contracts.envelope import EventMetadata, RecordedEvent
from tests.backends import Backend
from tests.polling import poll
from tests.read_side import PROJECTIONS, metric

pytestmark = pytest.mark.integration

Doc = dict[str, Any]
ADDRESS = {"line1": "1 Quay St", "city": "Lyon", "postal_code": "69001", "country": "FR"}
ITEMS = [{"sku": "APL", "name": "Apple", "quantity": 2, "unit_price": "1.25"}]
NOT_JSON = b"{not json"


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes
    value: bytes
    headers: Headers


def record(
    topic: str, stream_id: str, version: int, event_type: str, data: Doc, value: bytes = b""
) -> Record:
    """A record as the relay would send it (CloudEvents headers, JSON value) unless `value`."""
    stream_type = "customer" if event_type.startswith("Customer") else "order"
    event = RecordedEvent(
        position=0,
        transaction_id=0,
        event_id=uuid.uuid4(),
        stream_type=stream_type,
        stream_id=uuid.UUID(stream_id),
        version=version,
        event_type=event_type,
        schema_version=1,
        data=data,
        metadata=EventMetadata(),
        recorded_at=datetime.now(UTC),
    )
    value = value or orjson.dumps(data)
    return Record(topic, stream_id.encode(), value, to_headers(event, source="tests"))


@dataclass
class Topics:
    customers: str
    orders: str


@pytest.fixture
async def topics(kafka: Backend) -> Topics:
    """Two topics of one partition each, so offsets are known in advance."""
    suffix = uuid.uuid4().hex[:10]
    made = Topics(f"customers.dl.{suffix}", f"orders.dl.{suffix}")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.url)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in (made.customers, made.orders)])
    finally:
        await admin.close()
    return made


async def produce(bootstrap: str, records: list[Record]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for r in records:
            await producer.send_and_wait(r.topic, r.value, key=r.key, headers=r.headers)
    finally:
        await producer.stop()


@pytest.fixture
async def service(
    kafka: Backend, mongo: Backend, topics: Topics
) -> AsyncIterator[tuple[ReadService, AsyncDatabase[Doc]]]:
    """The read service's consumers, started in this test's loop; its database, dropped after."""
    suffix = uuid.uuid4().hex[:10]
    settings = ReadSettings(
        mongodb_url=mongo.url,
        mongodb_database=f"test_dead_letters_{suffix}",
        kafka_bootstrap_servers=kafka.url,
        customers_topic=topics.customers,
        orders_topic=topics.orders,
        stock_topic=f"stock.dl.{suffix}",  # of its own, never written to
        consumer_group_prefix=f"dl-{suffix}",
        kafka_session_timeout_ms=6000,  # the dev broker delays joins by half of it
        lag_poll_seconds=0.5,
        log_format="text",
    )
    read = bootstrap(settings)
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo.url, tz_aware=True)
    try:
        for name in PROJECTIONS:
            # Create the projection state first, one at a time: see
            # test_concurrent_first_reads_of_the_projection_state_all_get_it below.
            await read.control.get(name)
        read.start()
        yield read, client[settings.mongodb_database]
    finally:
        await read.close()
        await client.drop_database(settings.mongodb_database)
        await client.close()


def metrics(name: str) -> dict[str, float]:
    """`name` for each projection, as this process's registry holds it."""
    return {p: metric(REGISTRY, name, p) for p in PROJECTIONS}


def all_committed(
    read: ReadService, ends: dict[TopicPartition, int]
) -> Callable[[], Awaitable[bool]]:
    """Every projection committed past the last record (dead letters included)."""

    async def check() -> bool:
        for task in read.supervisor.tasks:  # a consumer that died would only show as a timeout
            if task.done():
                raise AssertionError(f"task {task.get_name()} ended: {task.exception()!r}")
        return all(
            all(r.status.committed.get(tp, 0) >= end for tp, end in ends.items())
            for r in read.runners.values()
        )

    return check


async def test_bad_records_are_dead_lettered_and_the_consumer_carries_on(
    service: tuple[ReadService, AsyncDatabase[Doc]], topics: Topics, kafka: Backend
) -> None:
    read, db = service
    customer, order, ghost, teleported = (str(uuid.uuid4()) for _ in range(4))
    placed = {
        "customer_id": customer,
        "items": ITEMS,
        "shipping_address": ADDRESS,
        "currency": "EUR",
        "total": "2.50",
    }
    shipped = {"carrier": "DHL", "tracking_number": "TRK-1"}
    o, c = topics.orders, topics.customers
    records = [
        record(o, str(uuid.uuid4()), 1, "OrderPlaced", placed, value=NOT_JSON),  # offset 0
        record(o, order, 1, "OrderPlaced", placed),
        record(o, teleported, 1, "OrderTeleported", {"to": "the moon"}),  # offset 2
        record(o, order, 2, "OrderConfirmed", {}),
        record(o, ghost, 1, "OrderShipped", shipped),  # offset 4: order_details cannot fold it
        record(o, order, 3, "OrderShipped", shipped),
        record(c, customer, 1, "CustomerRegistered", {"name": "Ann", "email": "ann@x.io"}),
        record(c, customer, 2, "CustomerRenamed", {"name": "Ann Lee"}),
    ]
    dead_before, unknown_before = (
        metrics("projection_dead_letters_total"),
        metrics("projection_unknown_events_total"),
    )
    started = time.monotonic()
    await produce(kafka.url, records)
    ends = {TopicPartition(o, 0): 6, TopicPartition(c, 0): 2}
    await poll(all_committed(read, ends), "every projection committed all records", timeout=30)
    first_pass = time.monotonic() - started

    details = await db["order_details_v1"].find_one({"_id": order})
    assert details is not None
    assert (details["status"], details["version"], details["customer_name"]) == (
        "shipped",
        3,
        "Ann Lee",
    )
    profile = await db["customers_v1"].find_one({"_id": customer})
    assert profile is not None
    assert (profile["name"], profile["order_count"], profile["lifetime_value"]) == (
        "Ann Lee",
        1,
        "2.50",
    )
    days = await db["sales_v1"].find({}).to_list()
    assert [(d["orders_placed"], d["revenue"]) for d in days] == [(1, "2.50")]
    assert await db["order_details_v1"].find_one({"_id": {"$in": [ghost, teleported]}}) is None

    letters = await db["dead_letters"].find({}).to_list()
    by_place = {(d["projection"], d["topic"], d["partition"], d["offset"]): d for d in letters}
    # The stock projection folds no order: a shipment of an order never placed is none of its
    # business.
    folding = [p for p in PROJECTIONS if p != "stock"]
    expected = {(p, o, 0, 0) for p in PROJECTIONS} | {(p, o, 0, 4) for p in folding}
    assert set(by_place) == expected  # the unknown type (offset 2) is no dead letter
    for p in PROJECTIONS:
        letter = by_place[(p, o, 0, 0)]
        assert letter["value"] == NOT_JSON and "cannot decode" in letter["error"]
        assert [k for k, _ in letter["headers"]] == [k for k, _ in records[0].headers]
    for p in folding:  # no projection of orders can apply a shipment of an order never placed
        failed = by_place[(p, o, 0, 4)]
        assert failed["value"] == records[4].value and "never began" in failed["error"]
        assert [(k, bytes(v)) for k, v in failed["headers"]] == records[4].headers

    def rose(name: str, before: dict[str, float]) -> dict[str, float]:
        return {p: metric(REGISTRY, name, p) - before[p] for p in PROJECTIONS}

    assert rose("projection_dead_letters_total", dead_before) == {
        p: 2 if p in folding else 1 for p in PROJECTIONS
    }
    assert rose("projection_unknown_events_total", unknown_before) == dict.fromkeys(PROJECTIONS, 1)

    # still consuming: a later event lands everywhere it should
    changed = {"old_email": "ann@x.io", "new_email": "ann.lee@x.io"}
    started = time.monotonic()
    await produce(kafka.url, [record(c, customer, 3, "CustomerEmailChanged", changed)])

    async def email_changed() -> bool:
        order_doc = await db["order_details_v1"].find_one({"_id": order})
        profile_doc = await db["customers_v1"].find_one({"_id": customer})
        return bool(order_doc and profile_doc) and (
            order_doc["customer_email"],  # type: ignore[index]
            profile_doc["email"],  # type: ignore[index]
        ) == ("ann.lee@x.io", "ann.lee@x.io")

    await poll(email_changed, "the email change was projected", timeout=30)
    second_pass = time.monotonic() - started
    assert await db["dead_letters"].count_documents({}) == len(expected)
    print(f"first records applied after {first_pass:.1f}s, a later one after {second_pass:.1f}s")


async def test_concurrent_first_reads_of_the_projection_state_all_get_it(mongo: Backend) -> None:
    """At start, the state refresher and every runner read their projection's state at once.

    A get that loses the race to create the state document must still return the state
    (SecantusDB answers the losers of concurrent upserts with no document).
    """
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo.url, tz_aware=True)
    try:
        for _ in range(10):  # the race is about timing: try it on several fresh databases
            db = client[f"test_control_{uuid.uuid4().hex[:10]}"]
            try:
                control = ControlState(db)
                gets = (control.get(p) for p in PROJECTIONS for _ in range(8))
                states = await asyncio.gather(*gets)
                assert [s["active_version"] for s in states] == [1] * len(states)
            finally:
                await client.drop_database(db.name)
    finally:
        await client.close()
