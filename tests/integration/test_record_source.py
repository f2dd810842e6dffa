"""A projection's record source over a real broker: at rest it asks the broker to hold its
fetches longer, and a record sent meanwhile still arrives and brings the usual wait back; while
behind it asks for a short wait, and the usual one once it has caught up."""

import inspect
import time
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.consumer.fetcher import Fetcher

from services.read.adapters import consumer as consumer_module
from services.read.adapters.consumer import KafkaRecordSource
from services.read.application.ports import Delivered
from services.read.settings import ReadSettings
from tests.backends import Backend

pytestmark = pytest.mark.integration
USUAL_MS, AT_REST_MS = 300, 1500


async def poll_until(source: KafkaRecordSource, count: int, timeout: float) -> list[Delivered]:
    """Poll until `count` records came (bounded)."""
    received: list[Delivered] = []
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        received += await source.poll(100)
    return received


async def topics_and_settings(kafka: Backend, name: str) -> tuple[str, str, ReadSettings]:
    suffix = uuid.uuid4().hex[:10]
    customers, orders = f"customers.{name}.{suffix}", f"orders.{name}.{suffix}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.url)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 1, 1) for t in (customers, orders)])
    finally:
        await admin.close()
    settings = ReadSettings(
        kafka_bootstrap_servers=kafka.url,
        customers_topic=customers,
        orders_topic=orders,
        stock_topic=f"stock.{suffix}",
        consumer_group_prefix=f"{name}-{suffix}",
        kafka_session_timeout_ms=6000,
        kafka_fetch_max_wait_ms=USUAL_MS,
        kafka_fetch_max_wait_at_rest_ms=AT_REST_MS,
    )
    return customers, orders, settings


async def test_a_consumer_behind_fetches_with_the_short_wait_until_it_has_caught_up(
    kafka: Backend,
) -> None:
    _, orders, settings = await topics_and_settings(kafka, "behind")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.url, enable_idempotence=False)
    await producer.start()
    try:
        for i in range(300):
            await producer.send(orders, b"%d" % i, key=b"a")
        await producer.flush()
        async with KafkaRecordSource(settings, "order_details") as source:
            received: list[Delivered] = []
            deadline = time.monotonic() + 30.0
            while len(received) < 100 and time.monotonic() < deadline:
                records = await source.poll(100)
                received += records
            assert len(records) == 100  # a full batch: the source is behind
            assert source.fetch_wait_ms == consumer_module.CATCHING_UP_WAIT_MS
            received += await poll_until(source, 300 - len(received), 30.0)
            assert [r.value for r in received] == [b"%d" % i for i in range(300)]
            assert await source.poll(100) == []
            assert source.fetch_wait_ms == USUAL_MS
    finally:
        await producer.stop()


async def test_a_consumer_at_rest_fetches_with_the_longer_wait_and_misses_nothing(
    kafka: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumer_module, "REST_AFTER_SECONDS", 0.5)
    monkeypatch.setattr(consumer_module, "POLL_TIMEOUT_MS", 200)
    customers, orders, settings = await topics_and_settings(kafka, "rest")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.url, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(orders, b"first", key=b"a")
        async with KafkaRecordSource(settings, "order_details") as source:
            assert source.fetch_wait_ms == USUAL_MS  # aiokafka's own, before any change
            assert [r.value for r in await poll_until(source, 1, 30.0)] == [b"first"]
            assert source.fetch_wait_ms == USUAL_MS

            deadline = time.monotonic() + 10.0
            while source.fetch_wait_ms != AT_REST_MS and time.monotonic() < deadline:
                assert await source.poll(100) == []
            assert source.fetch_wait_ms == AT_REST_MS

            await producer.send_and_wait(customers, b"second", key=b"b")
            assert [r.value for r in await poll_until(source, 1, 30.0)] == [b"second"]
            assert source.fetch_wait_ms == USUAL_MS
    finally:
        await producer.stop()


def test_aiokafka_builds_each_fetch_request_from_the_wait_the_source_changes() -> None:
    """The source changes a private attribute of aiokafka's fetcher: this fails, rather than
    the pacing silently doing nothing, if a new aiokafka reads its wait from elsewhere."""
    assert "self._fetch_max_wait_ms" in inspect.getsource(Fetcher._get_actions_per_node)
