"""The write and read services as real processes over real servers, for end-to-end tests: the
environment each needs, with a database and topics of its own."""

import asyncio
import os
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from deploy.local.stack import LocalIssuer, free_port
from tests.auth import auth_env, pii_env
from tests.services import RunningService, run_service


def _serve(
    name: str, env: dict[str, str], port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    log = tmp_path_factory.mktemp(name) / f"{name}-service.log"
    with run_service(name, env, port, log) as service:
        yield service


async def _create_database(server_url: str) -> str:
    name = f"e2e_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def write_env(postgres: Any, kafka: Any, issuer: LocalIssuer) -> dict[str, str]:
    """The environment of a write service with a database and topics of its own."""
    database_url = asyncio.run(_create_database(postgres.url))
    suffix = uuid.uuid4().hex[:8]
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.url,
        "KAFKA_ENABLE_IDEMPOTENCE": "false" if kafka.kind == "embedded" else "true",
        "CUSTOMERS_TOPIC": f"customers.{suffix}",
        "ORDERS_TOPIC": f"orders.{suffix}",
        "STOCK_TOPIC": f"stock.{suffix}",
        "RELAY_MARKER_TOPIC": f"marker.{suffix}",
        "WRITE_PORT": str(free_port()),
        "RELAY_POLL_SECONDS": "0.2",
        **auth_env(issuer),
        **pii_env(),
    }


def read_env(write_service: RunningService, mongo: Any) -> dict[str, str]:
    """The environment of a read service over the same topics as `write_service`, with a
    database of its own."""
    suffix = uuid.uuid4().hex[:8]
    return {
        **write_service.env,
        "MONGODB_URL": mongo.url,
        "MONGODB_DATABASE": f"read_{suffix}",
        "CONSUMER_GROUP_PREFIX": f"read-{suffix}",
        "WRITE_SERVICE_URL": write_service.url,
        "READ_PORT": str(free_port()),
        "LAG_POLL_SECONDS": "0.2",
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
    }


def serve(
    name: str, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """`name`'s service as a process on the port its environment names."""
    yield from _serve(name, env, int(env[f"{name.upper()}_PORT"]), tmp_path_factory)
