"""Each fulfilment test gets a shop of its own: a fresh event store, topics and read database."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from deploy.local.stack import LocalIssuer
from tests.backends import Backend
from tests.e2e.crashes.cluster import drop_databases
from tests.e2e.fulfilment.shop import Shop

MakeShop = Callable[..., Shop]


@pytest.fixture
async def make_shop(
    pg_database: str, kafka: Backend, mongo: Backend, issuer: LocalIssuer, tmp_path: Path
) -> AsyncIterator[MakeShop]:
    """make_shop(replicas=n, env={...}): one shop per test, its processes stopped after."""
    made: list[Shop] = []

    def make(**options: Any) -> Shop:
        shop = Shop(
            pg_url=pg_database, kafka=kafka, mongo=mongo, issuer=issuer, logs=tmp_path, **options
        )
        made.append(shop)
        return shop

    try:
        yield make
    finally:
        for shop in made:
            shop.close()
        names = [s.read.env["MONGODB_DATABASE"] for s in made if s.read is not None]
        await drop_databases(mongo.url, names)
