"""Projection lag, measured from the broker: how far each group's commits trail the log.

A consumer of its own (no group) reads, for every partition, the record at the group's
committed offset: the fetch gives the high-water mark (lag in events; the dev broker's
ListOffsets is unreliable) and the record's `ce_time` (lag in seconds). This keeps reporting
while a projection's consumer is paused or stuck, which is when it matters.
"""

import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts.cloudevents import parse_time
from shared.plumbing.kafka import kafka_security_options

from ..metrics import CONSUMER_LAG, LAG_EVENTS, LAG_SECONDS
from ..settings import ReadSettings
from .consumer import FETCHER_TIMEOUT_MS

log = logging.getLogger(__name__)
# How often the topics' partitions are looked up again (they are seldom added).
TOPICS_EVERY_SECONDS = 30.0
# Measured less often once nothing has moved for this long.
REST_AFTER = 10.0
REST_FACTOR = 10


@dataclass
class Lag:
    """The latest measurement for one projection."""

    events: int = 0
    seconds: float = 0.0
    committed_total: int = -1
    moved_at: float = field(default_factory=time.monotonic)
    committed_at: float = field(default_factory=time.monotonic)  # the commits last moved
    measured: bool = False

    def stalled(self, stall_seconds: float) -> bool:
        """Events wait, yet the commits have not moved for `stall_seconds`."""
        return self.events > 0 and time.monotonic() - self.moved_at > stall_seconds


class LagMonitor:
    """Measures every projection's lag every `lag_poll_seconds`."""

    def __init__(self, settings: ReadSettings, projections: list[str]) -> None:
        self.settings = settings
        self.lags = {name: Lag() for name in projections}

    async def run(self) -> None:
        while True:
            try:
                await self._run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep measuring whatever went wrong
                log.warning("lag monitor restarting: %r", exc)
                await asyncio.sleep(1.0)

    async def _run(self) -> None:
        bootstrap = self.settings.kafka_bootstrap_servers
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, **kafka_security_options(self.settings)
        )
        reader = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=50,
            consumer_timeout_ms=FETCHER_TIMEOUT_MS,
            **kafka_security_options(self.settings),
        )
        await admin.start()
        await reader.start()
        try:
            partitions: list[TopicPartition] = []
            looked_at = 0.0
            while True:
                if time.monotonic() - looked_at > TOPICS_EVERY_SECONDS or not partitions:
                    partitions, looked_at = await self._partitions(admin, reader), time.monotonic()
                reader.resume(*partitions)
                for name in self.lags:
                    await self._measure(name, admin, reader, partitions)
                # Between measurements the reader fetches nothing (it would fetch all the time).
                reader.pause(*partitions)
                await asyncio.sleep(self._interval())
        finally:
            await reader.stop()
            await admin.close()

    def _interval(self) -> float:
        """`lag_poll_seconds`; at rest (no lag anywhere, no commit for a while) ten times
        that: a stall needs events waiting, and those are seen at the next measurement."""
        quiet_for = time.monotonic() - max(lag.committed_at for lag in self.lags.values())
        resting = all(lag.events == 0 for lag in self.lags.values()) and quiet_for > REST_AFTER
        return self.settings.lag_poll_seconds * (REST_FACTOR if resting else 1)

    async def _partitions(
        self, admin: AIOKafkaAdminClient, reader: AIOKafkaConsumer
    ) -> list[TopicPartition]:
        topics = self.settings.event_topics
        # Every topic's metadata (asking for ours by name could have a broker create them).
        found = [
            TopicPartition(topic["topic"], part["partition"])
            for topic in await admin.describe_topics()
            if topic["topic"] in topics and not topic.get("error_code")
            for part in topic["partitions"]
        ]
        if set(found) != reader.assignment():
            reader.assign(found)
        return found

    async def _measure(
        self,
        name: str,
        admin: AIOKafkaAdminClient,
        reader: AIOKafkaConsumer,
        partitions: list[TopicPartition],
    ) -> None:
        group = self.settings.group_for(name)
        offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
        committed = {tp: max(0, o.offset) for tp, o in offsets.items() if o is not None}
        for tp in partitions:
            reader.seek(tp, committed.get(tp, 0))
        batch = await reader.getmany(*partitions, timeout_ms=100, max_records=len(partitions) * 50)
        lag, oldest = 0, None
        now = time.time()
        for tp in partitions:
            behind = max(0, (reader.highwater(tp) or 0) - committed.get(tp, 0))
            CONSUMER_LAG.labels(name, tp.topic, str(tp.partition)).set(behind)
            lag += behind
            first = batch.get(tp, [])[:1]
            if behind and first:
                headers = dict(first[0].headers or ())
                stamp = headers.get("ce_time")
                at = parse_time(stamp.decode()).timestamp() if stamp else first[0].timestamp / 1000
                oldest = at if oldest is None else min(oldest, at)
        self._record(
            name,
            lag,
            0.0 if not lag or oldest is None else max(0.0, now - oldest),
            sum(committed.values()),
        )

    def _record(self, name: str, events: int, seconds: float, committed_total: int) -> None:
        lag = self.lags[name]
        if committed_total != lag.committed_total:
            lag.committed_at = time.monotonic()
        if committed_total != lag.committed_total or events == 0:
            lag.moved_at = time.monotonic()
        lag.events, lag.seconds, lag.committed_total, lag.measured = (
            events,
            seconds,
            committed_total,
            True,
        )
        LAG_EVENTS.labels(name).set(events)
        LAG_SECONDS.labels(name).set(seconds)
