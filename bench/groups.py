"""Kafka consumer groups seen from outside: the topics' high-water marks and what a group has
committed, read as the read service's lag monitor reads them (a fetch gives the high-water
mark; the development broker's ListOffsets is not to be trusted)."""

from __future__ import annotations

import time
from types import TracebackType

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

Offsets = dict[TopicPartition, int]


class GroupOffsets:
    """An admin client and a group-less consumer over `topics`; an async context manager."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.topics = topics
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self.reader = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
        )
        self.partitions: list[TopicPartition] = []

    async def __aenter__(self) -> GroupOffsets:
        await self.admin.start()
        await self.reader.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.reader.stop()
        await self.admin.close()

    async def _partitions(self) -> list[TopicPartition]:
        if not self.partitions:
            described = await self.admin.describe_topics(self.topics)
            self.partitions = [
                TopicPartition(topic["topic"], part["partition"])
                for topic in described
                if not topic.get("error_code")
                for part in topic["partitions"]
            ]
        return self.partitions

    async def committed(self, group: str) -> Offsets:
        """The group's committed offsets (0 where it committed nothing)."""
        partitions = await self._partitions()
        found = await self.admin.list_consumer_group_offsets(group, partitions=partitions)
        return {tp: max(0, found[tp].offset) if found.get(tp) else 0 for tp in partitions}

    async def highwater(self, *, timeout: float = 10.0) -> Offsets:
        """Each partition's high-water mark, as the answers to fetches from offset 0 give it."""
        partitions = await self._partitions()
        self.reader.assign(partitions)
        for tp in partitions:
            self.reader.seek(tp, 0)
        marks: Offsets = {}
        deadline = time.monotonic() + timeout
        try:
            while len(marks) < len(partitions):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no high-water mark for {set(partitions) - set(marks)}")
                await self.reader.getmany(*partitions, timeout_ms=200, max_records=1)
                for tp in partitions:
                    if (mark := self.reader.highwater(tp)) is not None:
                        marks[tp] = mark
        finally:
            self.reader.unsubscribe()  # else its fetches go on, and the broker's work with them
        return marks


def behind(committed: Offsets, marks: Offsets) -> int:
    """Records between the committed offsets and the high-water marks."""
    return sum(max(0, mark - committed.get(tp, 0)) for tp, mark in marks.items())
