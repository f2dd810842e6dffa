"""The write and read services of a test module, and clients of each with a staff token."""

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from deploy.local.stack import LocalIssuer
from tests.auth import bearer, token
from tests.e2e.servers import read_env, serve, write_env
from tests.services import RunningService


@pytest.fixture(scope="module")
def write_service(
    postgres: Any, kafka: Any, issuer: LocalIssuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    yield from serve("write", write_env(postgres, kafka, issuer), tmp_path_factory)


@pytest.fixture(scope="module")
def read_service(
    write_service: RunningService, mongo: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    yield from serve("read", read_env(write_service, mongo), tmp_path_factory)


@pytest.fixture(scope="session")
def staff_token(issuer: LocalIssuer) -> str:
    """A token with every scope: staff and back-office clients."""
    return token(issuer)


@pytest.fixture
async def reader(
    read_service: RunningService, staff_token: str
) -> AsyncIterator[httpx.AsyncClient]:
    headers = bearer(staff_token)
    async with httpx.AsyncClient(base_url=read_service.url, timeout=30, headers=headers) as c:
        yield c


@pytest.fixture
async def client(
    write_service: RunningService, staff_token: str
) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=100)
    headers = bearer(staff_token)
    async with httpx.AsyncClient(
        base_url=write_service.url, timeout=30, limits=limits, headers=headers
    ) as c:
        yield c


@pytest.fixture
async def mongo_client(mongo: Any) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo.url, tz_aware=True)
    yield client
    await client.close()
