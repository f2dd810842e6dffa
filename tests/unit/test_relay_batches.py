"""The relay's own batches of records, over a stand-in for the producer: each record on its
key's partition, each partition's records in log order across full batches, and what a failed
batch means for the records acknowledged."""

import asyncio
from typing import Any

import pytest
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.memory_records import MemoryRecords

from services.write.adapters.kafka_batches import (
    RecordBatches,
    Sent,
    acknowledged,
    partition_for,
)
from services.write.application.ports import PartialPublish
from shared.contracts.cloudevents import OutgoingEvent, headers_of

from .fakes import FakeEventLog

PARTITIONS = [0, 1, 2]


class FakeProducer:
    """What RecordBatches uses of the producer; batches small enough to fill up."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.handed: list[tuple[BatchBuilder, str, int]] = []
        self.futures: list[asyncio.Future[Any]] = []

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)

    async def partitions_for(self, topic: str) -> set[int]:
        return set(PARTITIONS)

    async def send_batch(
        self, batch: BatchBuilder, topic: str, *, partition: int
    ) -> asyncio.Future[Any]:
        assert batch.closed()  # nothing else may join a batch once it is handed over
        self.handed.append((batch, topic, partition))
        self.futures.append(asyncio.get_running_loop().create_future())
        return self.futures[-1]


def records_of(batch: BatchBuilder) -> list[Any]:
    found = MemoryRecords(bytes(batch._build())).next_batch()  # noqa: SLF001 - as the sender reads it
    assert found is not None
    return list(found)


async def batched(events: list[OutgoingEvent], batch_size: int) -> tuple[FakeProducer, Sent]:
    producer = FakeProducer(batch_size)
    batches = RecordBatches(producer, source="/s")
    for event in events:
        await batches.add(event, "orders")
    return producer, await batches.send()


async def test_each_partition_gets_its_records_in_log_order_across_full_batches() -> None:
    events = FakeEventLog().add(40)
    producer, sent = await batched(events, batch_size=2000)  # a few records a batch
    assert len(producer.handed) > len(PARTITIONS)  # some partitions filled more than one
    assert sent.futures == producer.futures and len(sent.slots) == len(events)
    for partition in PARTITIONS:
        mine = [
            e for e in events if partition_for(e.stream_id.encode(), PARTITIONS, []) == partition
        ]
        batches = [b for b, topic, p in producer.handed if (topic, p) == ("orders", partition)]
        records = [record for batch in batches for record in records_of(batch)]
        assert [r.key for r in records] == [e.stream_id.encode() for e in mine]
        assert [r.value for r in records] == [e.data for e in mine]
        assert [r.headers for r in records] == [headers_of(e, source="/s") for e in mine]
    for event, slot in zip(events, sent.slots, strict=True):  # each record's batch, by its slot
        batch, _, partition = producer.handed[slot]
        assert partition == partition_for(event.stream_id.encode(), PARTITIONS, [])
        assert event.stream_id.encode() in [r.key for r in records_of(batch)]


async def test_a_failed_batch_acknowledges_the_records_before_its_first_one() -> None:
    loop = asyncio.get_running_loop()
    futures: list[asyncio.Future[Any]] = [loop.create_future() for _ in range(3)]
    futures[0].set_result(None)
    futures[1].set_exception(ConnectionError("partition leader gone"))
    futures[2].set_result(None)
    with pytest.raises(PartialPublish) as raised:
        await acknowledged(Sent(futures, [0, 2, 0, 1, 2, 1]), timeout=1)
    assert raised.value.acked == 3 and isinstance(raised.value.cause, ConnectionError)
    await acknowledged(Sent(futures[:1] + futures[2:], [0, 1, 1, 0]), timeout=1)
