"""The relay: every stored event reaches Kafka, in order, through outages and odd commits."""

import asyncio
import contextlib
from collections import Counter, defaultdict
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import DefaultPartitioner

from services.write.adapters.kafka import KafkaPublisher
from services.write.adapters.postgres import PostgresEventStore
from services.write.adapters.relay_support import PostgresCheckpoints
from services.write.application.handlers import CommandContext
from services.write.application.relay import Relay
from services.write.bootstrap import relay_runner
from services.write.entrypoints.republish import republish
from services.write.settings import WriteSettings
from shared.contracts.envelope import START, EventMetadata
from shared.contracts.events import FULFILMENT, StockReceived, fulfilment_stream_id, stock_stream_id
from tests.background import in_background
from tests.history import Shape, write_history
from tests.kafka_utils import Record, read_records

CTX = CommandContext(metadata=EventMetadata(actor={"subject": "clerk", "client_id": "shop"}))


def relay_running(
    settings: WriteSettings, store: PostgresEventStore
) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None]]:
    return in_background(relay_runner(settings, store).run())


async def topic_records(settings: WriteSettings, expected: int) -> list[Record]:
    topics = [settings.customers_topic, settings.orders_topic, settings.stock_topic]
    return await read_records(settings.kafka_bootstrap_servers, topics, expected=expected)


@pytest.fixture
def relay_settings(write_settings: WriteSettings) -> WriteSettings:
    """The test's settings with a stock topic of its own too."""
    return write_settings.model_copy(update={"stock_topic": f"stock.{uuid4().hex[:10]}"})


async def wait_published(store: PostgresEventStore, pg_url: str, timeout: float = 30) -> None:
    """Bounded polling until the relay checkpoint reached the end of the log."""
    conn = await asyncpg.connect(pg_url)
    try:
        for _ in range(int(timeout / 0.05)):
            row = await conn.fetchrow(
                "SELECT transaction_id::text::bigint AS tx, position FROM relay_checkpoints"
            )
            head = (await store.head()).cursor
            if row and (row["tx"], row["position"]) == tuple(head):
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()
    raise AssertionError("the relay did not reach the head of the log in time")


def assert_log_on_kafka(settings: WriteSettings, log: list[Any], records: list[Record]) -> None:
    """Every event once, on its stream type's topic, keyed by stream id (on the partition the
    Kafka default partitioner picks for it), in version order."""
    assert sorted(r.headers["ce_id"] for r in records) == sorted(str(e.event_id) for e in log)
    by_id = {str(e.event_id): e for e in log}
    versions: dict[str, list[int]] = defaultdict(list)
    partitions = list(range(settings.kafka_partitions))
    for record in records:
        event = by_id[record.headers["ce_id"]]
        assert record.topic == settings.topic_for(event.stream_type)
        assert record.key == str(event.stream_id)
        assert record.partition == DefaultPartitioner()(record.key.encode(), partitions, [])
        assert record.headers["ce_specversion"] == "1.0"
        assert record.headers["ce_type"] == event.event_type
        assert record.headers["ce_subject"] == str(event.stream_id)
        assert record.headers["ce_streamversion"] == str(event.version)
        assert record.headers["ce_position"] == str(event.position)
        assert record.headers["content-type"] == "application/json"
        assert {"ce_source", "ce_time", "ce_schemaversion", "ce_correlationid"} <= set(
            record.headers
        ) or event.metadata.correlation_id is None
        assert record.headers.get("ce_actor") == (event.metadata.actor or {}).get("subject")
        versions[record.key].append(event.version)
    for stream, seen in versions.items():
        assert seen == sorted(seen), f"stream {stream} out of order: {seen}"


async def test_every_event_is_published_once_in_order(
    store: PostgresEventStore, write_settings: WriteSettings, pg_database: str
) -> None:
    async with relay_running(write_settings, store):
        await write_history(store, Shape(customers=5, adds=4), context=CTX)
        await wait_published(store, pg_database)
    log = await store.read_all(START, 10_000)
    assert len(log) == 5 * 6
    assert_log_on_kafka(write_settings, log, await topic_records(write_settings, len(log)))


async def test_stock_goes_to_its_topic_and_the_fulfilment_streams_are_never_published(
    store: PostgresEventStore, relay_settings: WriteSettings, pg_database: str
) -> None:
    order_id = uuid4()
    async with relay_running(relay_settings, store):
        await write_history(store, Shape(customers=2, adds=1), context=CTX)
        await insert_fulfilment_event(store, order_id)
        received = StockReceived(sku="SKU-1", on_hand=5, reserved=0, quantity=5)
        await store.append(
            stream_type="stock",
            stream_id=stock_stream_id("SKU-1"),
            expected_version=0,
            events=[received],
            metadata=EventMetadata(correlation_id="c-stock"),
        )
        await wait_published(store, pg_database)
    log = await store.read_all(START, 10_000)
    published = [e for e in log if e.stream_type != FULFILMENT]
    assert [e.stream_id for e in log if e not in published] == [fulfilment_stream_id(order_id)]
    assert await store.count_outgoing(START) == len(published) == 2 * 3 + 1
    records = await topic_records(relay_settings, len(published))
    assert_log_on_kafka(relay_settings, published, records)
    stock = [r for r in records if r.topic == relay_settings.stock_topic]
    assert [r.headers["ce_type"] for r in stock] == ["StockReceived"]
    assert stock[0].key == str(stock_stream_id("SKU-1"))


async def insert_fulfilment_event(store: PostgresEventStore, order_id: UUID) -> None:
    """A row of the fulfilment process's own stream, written as it would write one."""
    await store.pool.execute(
        "INSERT INTO events (event_id, stream_type, stream_id, version, event_type,"
        " schema_version, data) VALUES ($1, $2, $3, 1, 'FulfilmentStarted', 1, $4)",
        uuid4(),
        FULFILMENT,
        fulfilment_stream_id(order_id),
        {"order_id": str(order_id), "rules": 1},
    )


async def test_the_relay_creates_every_event_topic_when_it_starts(
    relay_settings: WriteSettings,
) -> None:
    publisher = KafkaPublisher(relay_settings)
    assert await publisher.start()  # a broker without the marker: nothing was published yet
    await publisher.stop()
    settings = relay_settings
    wanted = {settings.customers_topic, settings.orders_topic, settings.stock_topic}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([*wanted, settings.relay_marker_topic])
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in described if not t["error_code"]}
    assert partitions == {
        **dict.fromkeys(wanted, settings.kafka_partitions),
        settings.relay_marker_topic: 1,
    }


async def test_writes_go_on_while_the_broker_is_down(
    store: PostgresEventStore, write_settings: WriteSettings, pg_database: str, kafka: Any
) -> None:
    if not kafka.can_restart:
        pytest.skip("this Kafka cannot be restarted from the tests")
    async with relay_running(write_settings, store):
        await write_history(store, Shape(customers=2, adds=2), context=CTX)
        await wait_published(store, pg_database)
        kafka.stop()
        try:
            # commands still succeed
            await write_history(store, Shape(customers=3, adds=2), context=CTX)
        finally:
            kafka.start()
        await wait_published(store, pg_database)
    log = await store.read_all(START, 10_000)
    assert len(log) == 5 * 4
    # the dev broker is memory-only: the relay noticed it lost its topics and sent everything
    assert_log_on_kafka(write_settings, log, await topic_records(write_settings, len(log)))


async def test_relay_skips_nothing_when_commits_come_out_of_order(
    store: PostgresEventStore, write_settings: WriteSettings, pg_database: str
) -> None:
    insert = (
        "INSERT INTO events (event_id, stream_type, stream_id, version, event_type,"
        " schema_version, data) VALUES ($1, 'customer', $2, 1, 'CustomerRegistered', 1,"
        ' \'{"name": "A", "email": "a@x.io"}\') RETURNING position'
    )
    relay = Relay(store, KafkaPublisher(write_settings), PostgresCheckpoints(store.pool))
    await relay.connect()
    low_conn, high_conn = await asyncpg.connect(pg_database), await asyncpg.connect(pg_database)
    try:
        low_tx, high_tx = low_conn.transaction(), high_conn.transaction()
        await low_tx.start()
        await low_conn.fetchval(insert, uuid4(), uuid4())
        await high_tx.start()
        await high_conn.fetchval(insert, uuid4(), uuid4())
        await high_tx.commit()
        assert await relay.publish_pending() == 0  # held back until the lower one is decided
        await low_tx.commit()
        assert await relay.publish_pending() == 2
    finally:
        await low_conn.close()
        await high_conn.close()
        await relay.disconnect()
    log = await store.read_all(START, 100)
    assert len(log) == 2
    assert_log_on_kafka(write_settings, log, await topic_records(write_settings, 2))


async def test_one_leader_among_replicas(
    store: PostgresEventStore, write_settings: WriteSettings, pg_database: str
) -> None:
    async with relay_running(write_settings, store), relay_running(write_settings, store):
        await write_history(store, Shape(customers=3, adds=3), context=CTX)
        await wait_published(store, pg_database)
    conn = await asyncpg.connect(pg_database)
    try:
        holders = await conn.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 7201002"
        )
    finally:
        await conn.close()
    assert holders == 0  # released on stop
    log = await store.read_all(START, 10_000)
    assert_log_on_kafka(write_settings, log, await topic_records(write_settings, len(log)))


async def test_republish_sends_history_again_from_a_position(
    store: PostgresEventStore, write_settings: WriteSettings, pg_database: str
) -> None:
    async with relay_running(write_settings, store):
        await write_history(store, Shape(customers=2, adds=2), context=CTX)
        await wait_published(store, pg_database)
    log = await store.read_all(START, 10_000)
    from_position = log[3].position
    sent = await republish(write_settings, from_position, batch_size=2)
    again = [e for e in log if e.position >= from_position]
    assert sent == len(again)
    records = await topic_records(write_settings, len(log) + len(again))
    copies = Counter(r.headers["ce_id"] for r in records)
    assert {str(e.event_id): copies[str(e.event_id)] for e in log} == {
        str(e.event_id): 2 if e.position >= from_position else 1 for e in log
    }
