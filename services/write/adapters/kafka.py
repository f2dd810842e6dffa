"""Kafka side of the relay: topic set-up and batched, acknowledged publishing."""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.contracts.cloudevents import OutgoingEvent, headers_of
from shared.plumbing.kafka import kafka_security_options
from shared.plumbing.tracing import links_to, producer_writes_traceparent, span, within

from ..application.ports import PartialPublish
from ..settings import WriteSettings
from .failures import translating
from .kafka_batches import MAX_REQUEST_SIZE, RecordBatches, Sent, acknowledged, partition_for

__all__ = ["BrokerStateLost", "KafkaPublisher", "ensure_topics", "partition_for"]
log = logging.getLogger(__name__)

# The broker refusing connections or requests, or not answering in time: Unavailable.
kafka_call = translating((KafkaError, OSError, TimeoutError))


class KafkaPublisher:
    """Publishes stored events as CloudEvents records, keyed by stream id."""

    def __init__(self, settings: WriteSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._topics: dict[str, str] = {}

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
            max_request_size=MAX_REQUEST_SIZE,
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
    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        """Send every record, then wait for all acknowledgements (raises PartialPublish).

        Traced, the batch has one span linked to the trace of every event's command, and each
        record is sent in its command's trace: the producer's instrumentation then writes the
        record's `traceparent` (its send span, in that trace) in place of the stored one.
        Untraced, the records go in batches built here (see `_send_batched`)."""
        links = links_to(event.traceparent for event in events)
        with span("relay publish", attributes={"ordering.events": len(events)}, links=links):
            await self._publish(events)

    async def _publish(self, events: Sequence[OutgoingEvent]) -> None:
        assert self._producer is not None, "publisher not started"
        await self._check_broker(self._producer)
        try:
            if producer_writes_traceparent():
                sent = await self._send_each(self._producer, events)
            else:
                sent = await self._send_batched(self._producer, events)
        except Exception as exc:
            raise PartialPublish(0, exc) from exc
        await acknowledged(sent, timeout=self._settings.kafka_request_timeout_ms / 1000 * 2)

    async def _send_each(self, producer: AIOKafkaProducer, events: Sequence[OutgoingEvent]) -> Sent:
        """Each record through `send`, the call the producer's instrumentation traces."""
        futures: list[asyncio.Future[Any]] = []
        source = self._settings.event_source
        try:
            for event in events:
                with within(event.traceparent):
                    futures.append(
                        await producer.send(
                            self._topic(event.stream_type),
                            value=event.data,
                            key=event.stream_id.encode(),
                            headers=headers_of(event, source=source, traceparent=False),
                        )
                    )
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return Sent(futures, range(len(futures)))

    async def _send_batched(
        self, producer: AIOKafkaProducer, events: Sequence[OutgoingEvent]
    ) -> Sent:
        """The records in batches of one partition each, in log order, each batch sent once
        built: the same records as `send` makes, without its coroutine, partitioner call and
        future per record."""
        batches = RecordBatches(producer, source=self._settings.event_source)
        for event in events:
            await batches.add(event, self._topic(event.stream_type))
        return await batches.send()

    def _topic(self, stream_type: str) -> str:
        if (topic := self._topics.get(stream_type)) is None:
            topic = self._topics[stream_type] = self._settings.topic_for(stream_type)
        return topic

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
        topics = [settings.customers_topic, settings.orders_topic, settings.stock_topic]
        wanted = [*topics, settings.relay_marker_topic]
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
