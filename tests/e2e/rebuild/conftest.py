"""The services the rebuild tests share, once for the whole folder: the write and read services,
a history written through them, and a reference read service that never rebuilds."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from deploy.local.stack import LocalIssuer, free_port
from tests.auth import bearer
from tests.e2e.rebuild.database import Doc, ReadDatabase
from tests.e2e.rebuild.workload import Workload
from tests.e2e.servers import read_env, serve, write_env
from tests.services import RunningService, run_service


@pytest.fixture(scope="package")
def write_service(
    postgres: Any, kafka: Any, issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    yield from serve("write", write_env(postgres, kafka, issuer), tmp_path_factory)


@pytest.fixture(scope="package")
def read_service(
    write_service: RunningService, mongo: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    yield from serve("read", read_env(write_service, mongo), tmp_path_factory)


@pytest.fixture
def rebuilt(mongo_client: AsyncMongoClient[Doc], read_service: RunningService) -> ReadDatabase:
    return ReadDatabase(mongo_client, read_service.env["MONGODB_DATABASE"])


@pytest.fixture(scope="package")
def reference(
    read_service: RunningService, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """A second read service over the same topics, with a database and groups of its own."""
    suffix = uuid.uuid4().hex[:8]
    port = free_port()
    env = {
        **read_service.env,
        "MONGODB_DATABASE": f"reference_{suffix}",
        "CONSUMER_GROUP_PREFIX": f"reference-{suffix}",
        "READ_PORT": str(port),
    }
    log = tmp_path_factory.mktemp("reference") / "reference-read-service.log"
    with run_service("read", env, port, log, timeout=90) as service:
        yield service


@pytest.fixture(scope="package")
async def workload(write_service: RunningService, staff_token: str) -> AsyncIterator[Workload]:
    """A few hundred events of history: customers, orders, additions, confirmations, cancels."""
    headers = bearer(staff_token)
    async with httpx.AsyncClient(base_url=write_service.url, timeout=30, headers=headers) as http:
        made = Workload(http)
        for _ in range(12):
            await made.register()
        for _ in range(30):
            await made.place()
        gate = asyncio.Semaphore(8)

        async def steps(n: int) -> None:
            async with gate:
                for _ in range(n):
                    await made.step()

        await asyncio.gather(*(steps(10) for _ in range(20)))
        assert not made.errors, made.errors
        yield made
