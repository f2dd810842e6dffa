"""The cluster each crash test runs: its processes stopped and its read databases dropped after."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from deploy.local.stack import LocalIssuer
from tests.backends import Backend
from tests.e2e.crashes.cluster import Cluster, drop_databases


@pytest.fixture
async def cluster(
    pg_database: str, kafka: Backend, mongo: Backend, issuer: LocalIssuer, tmp_path: Path
) -> AsyncIterator[Cluster]:
    made = Cluster(pg_url=pg_database, kafka=kafka, mongo=mongo, issuer=issuer, logs=tmp_path)
    try:
        yield made
    finally:
        made.close()
        await drop_databases(mongo.url, [r.env["MONGODB_DATABASE"] for r in made.readers])
