"""What the projection tests share, set up once for the whole folder: the worked history and the
history with stock, each in a database of its own, a MongoDB client, and each history's
documents applied in commit order."""

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.write.adapters.migrations import migrate
from services.write.adapters.postgres import PostgresEventStore, create_pool
from tests import stores
from tests.backends import Backend, with_database
from tests.integration.projections.projecting import Databases, Doc, Snapshot, batched, project
from tests.integration.projections.stock_history import StockHistory, write_stock_history
from tests.integration.projections.worked_history import History, write_worked_history
from tests.read_side import snapshot


@contextlib.asynccontextmanager
async def event_store(postgres: Backend) -> AsyncIterator[PostgresEventStore]:
    """An event store in a database of its own, as `pg_database` makes one per test."""
    name = f"test_projections_{uuid.uuid4().hex}"
    admin = await asyncpg.connect(postgres.url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await create_pool(with_database(postgres.url, name), min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        yield stores.event_store(pool)
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="package")
async def history(postgres: Backend) -> AsyncIterator[History]:
    """Written once per package."""
    async with event_store(postgres) as store:
        yield await write_worked_history(store)


@pytest.fixture(scope="package")
async def stock_history(postgres: Backend) -> AsyncIterator[StockHistory]:
    """Written once per package."""
    async with event_store(postgres) as store:
        yield await write_stock_history(store)


@pytest.fixture(scope="package")
async def client(mongo: Backend) -> AsyncIterator[AsyncMongoClient[Doc]]:
    mongo_client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo.url, tz_aware=True)
    yield mongo_client
    await mongo_client.close()


@pytest.fixture
async def new_db(client: AsyncMongoClient[Doc]) -> AsyncIterator[Databases]:
    """A factory of empty databases, dropped after the test."""
    made: list[str] = []

    def make() -> AsyncDatabase[Doc]:
        made.append(f"test_projections_{uuid.uuid4().hex[:12]}")
        return client[made[-1]]

    yield make
    for name in made:
        await client.drop_database(name)


@pytest.fixture(scope="package")
async def reference(history: History, client: AsyncMongoClient[Doc]) -> AsyncIterator[Snapshot]:
    """The history applied once, in commit order, in batches of 50."""
    db = client[f"test_projections_ref_{uuid.uuid4().hex[:12]}"]
    await project(db, batched(history.events, 50), keys=history.keys)
    yield await snapshot(db)
    await client.drop_database(db.name)


@pytest.fixture(scope="package")
async def stock_reference(
    stock_history: StockHistory, client: AsyncMongoClient[Doc]
) -> AsyncIterator[Snapshot]:
    """The history with stock applied once, from the feed, in commit order, in batches of 50."""
    db = client[f"test_projections_ref_{uuid.uuid4().hex[:12]}"]
    await project(db, batched(stock_history.events, 50), keys=stock_history.keys)
    yield await snapshot(db)
    await client.drop_database(db.name)
