"""The fake live side over one MongoDB database, and a staff client of the query routes over
it: set up once for the whole folder."""

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from pymongo import AsyncMongoClient

from deploy.local.stack import LocalIssuer
from services.read.entrypoints.app import create_app
from services.read.settings import ReadSettings
from tests.backends import Backend
from tests.integration.read_queries.documents import Doc
from tests.integration.read_queries.live_side import FakeLiveSide, serving


@pytest.fixture(scope="package")
async def read(mongo: Backend) -> AsyncIterator[FakeLiveSide]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(mongo.url)
    db = client[f"test_read_queries_{uuid4().hex[:12]}"]
    yield FakeLiveSide(db)
    await client.drop_database(db.name)
    await client.close()


@pytest.fixture(scope="package")
async def api(read: FakeLiveSide, issuer: LocalIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(read, issuer) as client:
        yield client


@pytest.fixture(scope="package")
def openapi() -> dict[str, Any]:
    """The read service's OpenAPI document, which the answers are checked against."""
    settings = ReadSettings(auth_issuer="https://issuer.example.com", auth_audience="ordering")
    document: dict[str, Any] = create_app(settings).openapi()
    return document
