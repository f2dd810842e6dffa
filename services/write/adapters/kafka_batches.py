"""The relay's records grouped into the producer's batches by the relay itself: one batch per
partition (the default partitioner's choice), filled in log order, each handed over whole."""

import asyncio
import functools
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from shared.contracts.cloudevents import Headers, OutgoingEvent, headers_of

from ..application.ports import PartialPublish

# The largest record the producer takes (its default), checked as `send` checks it.
MAX_REQUEST_SIZE = 1024 * 1024

_M = 0x5BD1E995  # murmur2's mixing constant
_MASK = 0xFFFFFFFF


def fast_murmur2(data: bytes) -> int:
    """Kafka's murmur2 (aiokafka's `murmur2`, the Java client's `Utils.murmur2`) in a third of
    the time: the key's words unpacked at once, each step masked once. Every new stream's
    first record is hashed, and a relay batch holds hundreds."""
    length = len(data)
    h = 0x9747B28C ^ length
    whole = length & ~3
    for k in _words(length >> 2).unpack_from(data):
        k = (k * _M) & _MASK
        k = ((k ^ (k >> 24)) * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length & 3
    if tail:
        if tail == 3:
            h ^= data[whole + 2] << 16
        if tail >= 2:
            h ^= data[whole + 1] << 8
        h = ((h ^ data[whole]) * _M) & _MASK
    h = ((h ^ (h >> 13)) * _M) & _MASK
    return h ^ (h >> 15)


@functools.cache
def _words(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


# The hash of recent keys: a stream's later events skip it.
_murmur2: Callable[[bytes], int] = functools.lru_cache(maxsize=65_536)(fast_murmur2)


def partition_for(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """The Kafka default partitioner's choice: murmur2 of the key (kept for recent keys, so a
    stream's later events skip it), or any available partition without a key."""
    if key is None:
        return int(DefaultPartitioner()(key, all_partitions, available))
    return all_partitions[(_murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]


@dataclass(frozen=True)
class Sent:
    """Records handed to the producer: the futures of their acknowledgements, and for each
    record in log order the index of its future (one per record, or one per batch)."""

    futures: list["asyncio.Future[Any]"]
    slots: Sequence[int]


async def acknowledged(sent: Sent, *, timeout: float) -> None:
    """Wait for the broker's acknowledgements; PartialPublish names how many records, in log
    order, were acknowledged before the first one that was not."""
    results = await asyncio.wait_for(
        asyncio.gather(*sent.futures, return_exceptions=True), timeout=timeout
    )
    for index, slot in enumerate(sent.slots):
        if isinstance(result := results[slot], BaseException):
            raise PartialPublish(index, result)


class RecordBatches:
    """Records added in log order, each to the open batch of its partition (a full batch is
    closed and the next one opened), then sent batch after batch in the order they were opened,
    which keeps each partition's records in log order."""

    def __init__(self, producer: AIOKafkaProducer, *, source: str) -> None:
        self._producer = producer
        self._source = source
        self._partitions: dict[str, list[int]] = {}
        self._batches: list[tuple[BatchBuilder, str, int]] = []
        self._open: dict[tuple[str, int], int] = {}  # (topic, partition) -> index in _batches
        self._slots: list[int] = []

    async def add(self, event: OutgoingEvent, topic: str) -> None:
        partitions = self._partitions.get(topic) or await self._learn(topic)
        key = event.stream_id.encode()
        place = (topic, partition_for(key, partitions, partitions))
        headers = headers_of(event, source=self._source)
        if DefaultRecordBatchBuilder.estimate_size_in_bytes(key, event.data, headers) > (
            MAX_REQUEST_SIZE
        ):
            raise MessageSizeTooLargeError(f"the record of event {event.event_id} is too large")
        index = self._open.get(place)
        if index is None or not self._append(index, key, event.data, headers):
            index = self._open[place] = len(self._batches)
            self._batches.append((self._producer.create_batch(), *place))
            self._append(index, key, event.data, headers)  # an empty batch takes any record
        self._slots.append(index)

    async def send(self) -> Sent:
        futures: list[asyncio.Future[Any]] = []
        try:
            for batch, topic, partition in self._batches:
                batch.close()  # so that nothing else the producer sends can join it
                futures.append(await self._producer.send_batch(batch, topic, partition=partition))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return Sent(futures, self._slots)

    def _append(self, index: int, key: bytes, value: bytes, headers: Headers) -> bool:
        batch = self._batches[index][0]
        return batch.append(timestamp=None, key=key, value=value, headers=headers) is not None

    async def _learn(self, topic: str) -> list[int]:
        """The topic's partitions as the producer knows them (as `send` would pick from)."""
        found = self._partitions[topic] = sorted(await self._producer.partitions_for(topic))
        return found
