"""The test harness itself: each backend answers its protocol, restarts, and isolates databases."""

import re
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from deploy.local.stack import LocalKafka, LocalPostgres, LocalServer, PortInUseError
from tests.backends import Backend

pytestmark = pytest.mark.integration


async def kafka_round_trip(bootstrap: str) -> None:
    """Three keyed records with headers go into a new topic and come back in order."""
    topic = f"stack-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    sent = [
        (f"key-{i}".encode(), f"value-{i}".encode(), [("n", str(i).encode())]) for i in range(3)
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        for key, value, headers in sent:
            await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()
    group = f"stack-{uuid.uuid4().hex[:12]}"
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        # Tansu holds the first JoinGroup for about half the session timeout; 6 s is the
        # smallest one real Kafka accepts (group.min.session.timeout.ms)
        session_timeout_ms=6000,
        heartbeat_interval_ms=2000,
    )
    await consumer.start()
    try:
        received: list[Any] = []
        deadline = time.monotonic() + 30
        while len(received) < len(sent) and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                received.extend(records)
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()
    got = [(r.key, r.value, list(r.headers)) for r in received]
    assert got == sent
    assert [r.offset for r in received] == [0, 1, 2]
    assert committed == 3


async def mongo_round_trip(url: str, database: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        await client[database].things.insert_one({"_id": "a", "amount": "12.50"})
        assert await client[database].things.find_one({"_id": "a"}) == {
            "_id": "a",
            "amount": "12.50",
        }
    finally:
        await client.close()


def host_port(url: str) -> tuple[str, int]:
    host, port = re.sub(r"^\w+://", "", url).split("/")[0].split("@")[-1].rsplit(":", 1)
    return host, int(port)


def assert_nothing_listens(url: str) -> None:
    with pytest.raises(OSError):
        socket.create_connection(host_port(url), timeout=1).close()


async def test_postgres_answers(postgres: Backend) -> None:
    conn = await asyncpg.connect(postgres.url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        # xid8, which the event store's commit-order reads rely on
        assert int(await conn.fetchval("SELECT pg_current_xact_id()::text")) > 0
    finally:
        await conn.close()


async def test_pg_database_is_a_database_of_its_own(postgres: Backend, pg_database: str) -> None:
    conn = await asyncpg.connect(pg_database)
    try:
        name = await conn.fetchval("SELECT current_database()")
        await conn.execute("CREATE TABLE only_here (id int)")
    finally:
        await conn.close()
    assert name.startswith("test_") and pg_database.endswith(f"/{name}")
    main = await asyncpg.connect(postgres.url)
    try:
        assert await main.fetchval("SELECT to_regclass('only_here')") is None
    finally:
        await main.close()


async def test_kafka_round_trip(kafka: Backend) -> None:
    await kafka_round_trip(kafka.url)


async def test_mongo_round_trip(mongo: Backend) -> None:
    await mongo_round_trip(mongo.url, f"stack_{uuid.uuid4().hex[:12]}")


async def test_kafka_restarts_on_the_same_port(kafka: Backend) -> None:
    if not kafka.can_restart:
        pytest.skip(f"a {kafka.kind} Kafka cannot be restarted from the tests")
    url = kafka.url
    kafka.stop()
    try:
        assert_nothing_listens(url)
    finally:
        kafka.start()
    assert kafka.url == url
    await kafka_round_trip(kafka.url)  # memory-only: topics are gone, new ones work


async def test_mongo_restarts_on_the_same_port_with_its_data(mongo: Backend) -> None:
    if not mongo.can_restart:
        pytest.skip(f"a {mongo.kind} MongoDB cannot be restarted from the tests")
    database, url = f"stack_{uuid.uuid4().hex[:12]}", mongo.url
    await mongo_round_trip(url, database)
    mongo.stop()
    try:
        assert_nothing_listens(url)
    finally:
        mongo.start()
    assert mongo.url == url
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    try:
        assert await client[database].things.count_documents({}) == 1
    finally:
        await client.close()


MAKERS: dict[str, Callable[[Path, int], LocalServer]] = {
    "postgres": lambda tmp, port: LocalPostgres(tmp / "pg", port=port, log_path=tmp / "pg.log"),
    "kafka": lambda tmp, port: LocalKafka(port=port, log_path=tmp / "kafka.log"),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_a_taken_port_fails_with_a_clear_message(name: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = MAKERS[name](tmp_path, port)
        with pytest.raises(PortInUseError) as error:
            server.start(timeout=10)
    assert str(error.value) == (
        f"port {port} is already in use: stop whatever listens there or set {server.port_env}"
    )
    assert not server.running
