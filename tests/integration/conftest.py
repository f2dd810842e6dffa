"""Fixtures for the write side over real servers."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.write.adapters.migrations import migrate
from services.write.adapters.postgres import PostgresEventStore, create_pool
from services.write.settings import WriteSettings
from tests.auth import pii_settings
from tests.stores import event_store


@pytest.fixture
async def store(pg_database: str) -> AsyncIterator[PostgresEventStore]:
    pool = await create_pool(pg_database, min_size=1, max_size=10)
    async with pool.acquire() as conn:
        await migrate(conn)
    store = event_store(pool)
    yield store
    await store.close()
    await pool.close()


@pytest.fixture
def write_settings(pg_database: str, kafka: Any) -> WriteSettings:
    """Settings with topics of their own, so tests never see each other's records."""
    suffix = uuid.uuid4().hex[:10]
    return WriteSettings(
        database_url=pg_database,
        kafka_bootstrap_servers=kafka.url,
        kafka_enable_idempotence=kafka.kind != "embedded",
        customers_topic=f"customers.{suffix}",
        orders_topic=f"orders.{suffix}",
        stock_topic=f"stock.{suffix}",
        relay_marker_topic=f"marker.{suffix}",
        kafka_partitions=3,
        relay_poll_seconds=0.2,
        kafka_request_timeout_ms=3000,
        **pii_settings(),
    )
