"""Kafka side of the relay: topic set-up and batched, acknowledged publishing."""

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner, murmur2

from shared.contracts.cloudevents import to_headers
from shared.contracts.envelope import RecordedEvent
from shared.contracts.serialization import dumps
from shared.plumbing.kafka import kafka_security_options
from shared.plumbing.tracing import links_to, producer_writes_traceparent, span, within

from ..application.ports import PartialPublish
from ..settings import WriteSettings
from .failures import translating

log = logging.getLogger(__name__)

# The broker refusing connections or requests, or not answering in time: Unavailable.
kafka_call = translating((KafkaError, OSError, TimeoutError))

# The hash of recent keys: a stream's later events skip it.
_murmur2: Callable[[bytes], int] = functools.lru_cache(maxsize=65_536)(murmur2)


def partition_for(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """The Kafka default partitioner's choice: murmur2 of the key (kept for recent keys, so a
    stream's later events skip it), or any available partition without a key."""
    if key is None:
        return int(DefaultPartitioner()(key, all_partitions, available))
    return all_partitions[(_murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]


class KafkaPublisher:
    """Publishes stored events as CloudEvents records, keyed by stream id."""

    def __init__(self, settings: WriteSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None

    @kafka_call
    async def start(self) -> bool:
        """Connect and make sure the topics exist; True when the broker had lost them."""
        lost = await ensure_topics(self._settings)
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=self._settings.kafka_enable_idempotence,
            linger_ms=2,
            max_batch_size=256 * 1024,
            request_timeout_ms=self._settings.kafka_request_timeout_ms,
            client_id="ordering-relay",
            partitioner=partition_for,
            **kafka_security_options(self._settings),
        )
        await producer.start()
        self._producer = producer
        return lost

    @kafka_call
    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    @kafka_call
    async def publish(self, events: Sequence[RecordedEvent]) -> None:
        """Send every record, then wait for all acknowledgements (raises PartialPublish).

        Traced, the batch has one span linked to the trace of every event's command, and each
        record is sent in its command's trace: the producer's instrumentation then writes the
        record's `traceparent` (its send span, in that trace) in place of the stored one."""
        links = links_to(event.metadata.traceparent for event in events)
        with span("relay publish", attributes={"ordering.events": len(events)}, links=links):
            await self._publish(events)

    async def _publish(self, events: Sequence[RecordedEvent]) -> None:
        assert self._producer is not None, "publisher not started"
        await self._check_broker(self._producer)
        futures = []
        source, stored = self._settings.event_source, not producer_writes_traceparent()
        try:
            for event in events:
                with within(event.metadata.traceparent):
                    futures.append(
                        await self._producer.send(
                            self._settings.topic_for(event.stream_type),
                            value=dumps(event.data),
                            key=str(event.stream_id).encode(),
                            headers=to_headers(event, source=source, traceparent=stored),
                        )
                    )
        except Exception as exc:
            for future in futures:
                future.cancel()
            raise PartialPublish(0, exc) from exc
        timeout = self._settings.kafka_request_timeout_ms / 1000 * 2
        results = await asyncio.wait_for(
            asyncio.gather(*futures, return_exceptions=True), timeout=timeout
        )
        for index, result in enumerate(results):
            if isinstance(result, BaseException):
                raise PartialPublish(index, result)

    async def _check_broker(self, producer: AIOKafkaProducer) -> None:
        """Fail before sending when the broker is unreachable or has lost its topics.

        Sending blindly would let the producer retry into a restarted broker, which creates
        topics implicitly and hides that the history it held is gone.
        """
        metadata = await producer.client.fetch_all_metadata()
        if self._settings.relay_marker_topic not in metadata.topics():
            raise BrokerStateLost("the broker no longer has the relay's topics")


class BrokerStateLost(Exception):
    """The broker answers but its topics are gone (it was restarted empty or rebuilt)."""


async def ensure_topics(settings: WriteSettings) -> bool:
    """Create the event topics (and the relay's marker) when missing.

    The marker topic is never written to, so nothing re-creates it implicitly: if it is gone,
    the broker lost its state (a memory-only dev broker restarted, a cluster rebuilt) and the
    relay must publish the history again. Returns True in that case.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        request_timeout_ms=settings.kafka_request_timeout_ms,
        **kafka_security_options(settings),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [settings.customers_topic, settings.orders_topic, settings.relay_marker_topic]
        missing = [name for name in wanted if name not in existing]
        for name in missing:
            partitions = 1 if name == settings.relay_marker_topic else settings.kafka_partitions
            topic = NewTopic(name, partitions, settings.kafka_replication_factor)
            try:
                await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass
        if missing:
            log.info("created topics", extra={"topics": missing})
        return settings.relay_marker_topic in missing
    finally:
        await admin.close()
