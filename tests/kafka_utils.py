"""Reading topics back in tests: every record, with bounded polling."""

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str
    value: bytes
    headers: dict[str, str]
    header_list: tuple[tuple[str, str], ...] = ()  # as sent: a name may repeat


async def read_records(
    bootstrap: str, topics: list[str], *, expected: int, timeout: float = 30.0
) -> list[Record]:
    """All records of `topics` from the beginning, once at least `expected` arrived (or timeout).

    After reaching `expected`, polls a little longer so that extra (duplicate) records show.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        # Assigned partitions, no group: a group join costs seconds on some brokers.
        partitions: list[TopicPartition] = []
        while time.monotonic() < deadline:
            metadata = await consumer._client.fetch_all_metadata()  # noqa: SLF001
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                for p in sorted(metadata.partitions_for_topic(topic) or ())
            ]
            if partitions:
                break
            await asyncio.sleep(0.1)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Record] = []
        quiet_rounds = 0
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                records.extend(_record(m) for m in msgs)
            if len(records) >= expected:
                quiet_rounds = 0 if batch else quiet_rounds + 1
                if quiet_rounds >= 3:
                    break
        return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
    finally:
        await consumer.stop()


def _record(message: object) -> Record:
    m = message
    return Record(
        topic=m.topic,  # type: ignore[attr-defined]
        partition=m.partition,  # type: ignore[attr-defined]
        offset=m.offset,  # type: ignore[attr-defined]
        key=(m.key or b"").decode(),  # type: ignore[attr-defined]
        value=m.value,  # type: ignore[attr-defined]
        headers={k: v.decode() for k, v in m.headers},  # type: ignore[attr-defined]
        header_list=tuple((k, v.decode()) for k, v in m.headers),  # type: ignore[attr-defined]
    )
