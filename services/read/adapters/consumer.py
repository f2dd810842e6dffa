"""One projection's Kafka consumer: its group's share of the event topics, committed by hand."""

import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from shared.plumbing.kafka import kafka_security_options

from ..application.ports import Delivered, Partition, Unavailable
from ..settings import ReadSettings

log = logging.getLogger(__name__)
# A poll returns as soon as records are there; with none, it returns after this long, so that the
# loop notices a pause meanwhile.
POLL_TIMEOUT_MS = 1000
# While a poll brings at least this many records (the consumer is behind), it waits up to
# GATHER_MS for the next fetch's and adds them to the batch, up to the batch's limit: a batch
# then grows past what one fetch brings, and a document changed by many events is written once.
GATHER_WHEN = 500
GATHER_MS = 50
# aiokafka's background fetcher wakes on its own events (a fetch answered, records consumed, a
# rebalance) and also, by default, every 200 ms to look for work: once a second is enough.
FETCHER_TIMEOUT_MS = 1000
# A consumer that has received nothing for this long fetches with the wait at rest.
REST_AFTER_SECONDS = 10.0
# While a consumer is behind (its last fetch brought a full batch), it fetches with this wait.
# aiokafka has one fetch in flight per broker, for the partitions whose fetched records are all
# consumed: when some partitions have caught up and others still have records in hand, that
# fetch asks only for the caught-up ones, and the broker holds it for the whole wait. The others
# are fetched again only once it returns, so with the usual wait a backlog's last records would
# wait up to half a second, however many of them are left. Held fetches of caught-up partitions
# then cost the broker at most one request every CATCHING_UP_WAIT_MS while the backlog lasts.
CATCHING_UP_WAIT_MS = 20


def delivered(message: Any) -> Delivered:
    return Delivered(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=tuple(message.headers or ()),
        timestamp_ms=message.timestamp,
    )


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, source: "KafkaRecordSource") -> None:
        self.source = source

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        log.info("partitions revoked: %s", sorted(map(str, revoked)))
        self.source.generation += 1

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(map(str, assigned)))
        self.source.generation += 1
        if self.source.held and assigned:  # a held projection holds its new partitions too
            self.source.consumer.pause(*assigned)


class KafkaRecordSource:
    """A `RecordSource` over aiokafka; an async context manager that starts and stops it.

    Broker failures are `Unavailable`.
    """

    def __init__(self, settings: ReadSettings, projection: str) -> None:
        self.held = False
        self.generation = 0
        self.waits_ms = (settings.kafka_fetch_max_wait_ms, settings.kafka_fetch_max_wait_at_rest_ms)
        self._received_at = time.monotonic()
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.group_for(projection),
            client_id=f"read-{projection}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=settings.kafka_session_timeout_ms,
            max_poll_interval_ms=600_000,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            consumer_timeout_ms=FETCHER_TIMEOUT_MS,
            **kafka_security_options(settings),
        )
        self.consumer.subscribe(settings.event_topics, listener=_Rebalance(self))
        self.first_topic = settings.customers_topic

    async def __aenter__(self) -> "KafkaRecordSource":
        try:
            await self.consumer.start()
        except KafkaError as exc:
            await self.consumer.stop()
            raise Unavailable(f"Kafka: {exc!r}") from exc
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.consumer.stop()

    async def poll(self, max_records: int) -> list[Delivered]:
        records = await self._fetched(POLL_TIMEOUT_MS, max_records)
        self._pace(len(records), behind=len(records) >= min(GATHER_WHEN, max_records))
        more = records
        while len(more) >= GATHER_WHEN and len(records) < max_records:
            more = await self._fetched(GATHER_MS, max_records - len(records))
            records += more
        return records

    async def more(self, max_records: int) -> list[Delivered]:
        records = await self._fetched(GATHER_MS, max_records)
        if records:
            self._pace(len(records), behind=len(records) >= max_records)
        return records

    def _pace(self, received: int, *, behind: bool) -> None:
        """The fetch wait for what comes next: a short one while behind, the usual one while
        records come, the one at rest once nothing came for REST_AFTER_SECONDS."""
        now = time.monotonic()
        if received:
            self._received_at = now
        usual, at_rest = self.waits_ms
        if behind:
            wait = min(usual, CATCHING_UP_WAIT_MS)
        elif now - self._received_at >= REST_AFTER_SECONDS:
            wait = at_rest
        else:
            wait = usual
        # aiokafka reads the wait from its fetcher for each request it builds, and has no
        # public way to change it on a running consumer.
        fetcher = getattr(self.consumer, "_fetcher", None)
        if fetcher is not None:
            fetcher._fetch_max_wait_ms = wait

    @property
    def fetch_wait_ms(self) -> int | None:
        """The wait the next fetch asks the broker for (None before the consumer started)."""
        fetcher = getattr(self.consumer, "_fetcher", None)
        return None if fetcher is None else int(fetcher._fetch_max_wait_ms)

    async def _fetched(self, timeout_ms: int, max_records: int) -> list[Delivered]:
        """Up to `max_records`, the customers topic's first: orders' documents copy their
        customer's, and an order written before a change of its customer that had already
        arrived is written again once that change is applied."""
        first = [tp for tp in self.consumer.assignment() if tp.topic == self.first_topic]
        records = await self._getmany(first, 0, max_records) if first else []
        if len(records) < max_records:
            # With records taken, the second call does not wait (aiokafka returns at once with
            # a zero timeout, but for a rebalance, which resets the positions anyway), so a
            # fetch cancelled here never drops records it has already taken from the consumer.
            wait_ms = 0 if records else timeout_ms
            records += await self._getmany([], wait_ms, max_records - len(records))
        return records

    async def _getmany(
        self, partitions: list[TopicPartition], timeout_ms: int, max_records: int
    ) -> list[Delivered]:
        try:
            batch = await self.consumer.getmany(
                *partitions, timeout_ms=timeout_ms, max_records=max_records
            )
        except KafkaError as exc:
            raise Unavailable(f"Kafka: {exc!r}") from exc
        return [delivered(m) for tp in sorted(batch, key=str) for m in batch[tp]]

    async def commit(self, offsets: Mapping[Partition, int]) -> bool:
        try:
            await self.consumer.commit({TopicPartition(*tp): o for tp, o in offsets.items()})
        except CommitFailedError as exc:  # partitions moved on; the new owner re-applies
            log.warning("commit refused after a rebalance: %r", exc)
            return False
        except KafkaError as exc:
            raise Unavailable(f"Kafka: {exc!r}") from exc
        return True

    def hold(self, held: bool) -> None:
        self.held = held
        parts = self.consumer.assignment()
        (self.consumer.pause if held else self.consumer.resume)(*parts)
