"""In-memory doubles of the read service's record source and codec, for unit tests: records
handed out batch by batch, and what each record carries."""

import asyncio
from collections.abc import Iterable, Mapping

from services.read.application.ports import Delivered, Partition, Undecodable, UnknownType
from services.read.projections.base import Event


class FakeSource:
    """Records to hand out, and the commits asked for; `refuse` refuses commits (the partitions
    moved to another consumer meanwhile)."""

    def __init__(self, batches: Iterable[list[Delivered]] = ()) -> None:
        self.batches = list(batches)
        self.commits: list[dict[Partition, int]] = []
        self.refuse = False
        self.held = False
        self.generation = 0
        self.asked: list[int] = []  # max_records of each poll

    async def poll(self, max_records: int) -> list[Delivered]:
        self.asked.append(max_records)
        if self.batches and not self.held:
            return self.batches.pop(0)
        await asyncio.sleep(0.01)  # a broker's poll with nothing to give waits a little
        return []

    async def more(self, max_records: int) -> list[Delivered]:
        if self.batches and not self.held:
            return self.batches.pop(0)
        await asyncio.sleep(0.005)
        return []

    async def commit(self, offsets: Mapping[Partition, int]) -> bool:
        if self.refuse:
            return False
        self.commits.append(dict(offsets))
        return True

    def hold(self, held: bool) -> None:
        self.held = held


class Records:
    """Makes records and decodes them: each record stands for an event, a poison pill (not an
    event of ours) or an event of a type unknown here."""

    def __init__(self, topic: str = "orders.events") -> None:
        self.topic = topic
        self.carried: dict[tuple[str, int, int], Event | Exception] = {}
        self.offsets: dict[int, int] = {}

    def _record(self, partition: int, carried: Event | Exception) -> Delivered:
        offset = self.offsets.get(partition, 0)
        self.offsets[partition] = offset + 1
        self.carried[self.topic, partition, offset] = carried
        return Delivered(self.topic, partition, offset, None, b"{}", (), 0)

    def of(self, event: Event, partition: int = 0) -> Delivered:
        return self._record(partition, event)

    def poison(self, partition: int = 0) -> Delivered:
        return self._record(partition, Undecodable("cannot decode record: not JSON"))

    def unknown(self, partition: int = 0) -> Delivered:
        return self._record(partition, UnknownType("OrderTeleported"))

    def decode(self, record: Delivered) -> Event:
        carried = self.carried[record.topic, record.partition, record.offset]
        if isinstance(carried, Exception):
            raise carried
        return carried
