"""The live side of one projection: consume both topics, apply in batches, commit after.

Offsets are committed only once the batch's documents are written, so a crash re-delivers
(and the version marks make the re-delivery a no-op) but never loses an event.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from pymongo.errors import ConnectionFailure, PyMongoError

from shared.plumbing.kafka import kafka_security_options

from ..adapters.collections import Collections
from ..adapters.control import ControlState
from ..adapters.dead_letters import DeadLetters
from ..adapters.documents import Conflict, DocumentStore
from ..adapters.records import Delivered, Undecodable, UnknownType, decode, delivered
from ..adapters.write_api import WriteApi, WriteApiError
from ..metrics import APPLIED, APPLY_LATENCY, DEAD_LETTERS, DUPLICATES, GAPS, POSITION, SKIPPED
from ..projections.base import Event
from ..settings import ReadSettings
from .appliers import ProjectionSpec

log = logging.getLogger(__name__)
# Failures of the infrastructure: wait and try the same batch again, never dead-letter.
TRANSIENT = (ConnectionFailure, WriteApiError, Conflict, OSError, TimeoutError)


@dataclass
class RunnerStatus:
    """What /projections, readiness and the lag monitor read about a running projection."""

    committed: dict[TopicPartition, int] = field(default_factory=dict)
    position: int = 0
    applied: int = 0
    healthy: bool = True
    last_error: str | None = None
    paused: bool = False


class StreamWaiters:
    """Readers waiting for a stream's events to be written; each is woken by its own stream only,
    so a thousand waiting readers do not all re-read after every batch."""

    def __init__(self) -> None:
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}

    async def wait(self, stream_id: str, timeout: float) -> None:
        """Return once a batch with `stream_id` was written, or after `timeout` seconds."""
        woken = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(stream_id, []).append(woken)
        try:
            await asyncio.wait_for(woken, timeout)
        except TimeoutError:
            pass
        finally:
            waiting = self._waiting.get(stream_id)
            if waiting is not None and woken in waiting:
                waiting.remove(woken)
                if not waiting:
                    del self._waiting[stream_id]

    def wake(self, stream_ids: set[str]) -> None:
        for stream_id in stream_ids & self._waiting.keys():
            for woken in self._waiting.pop(stream_id):
                if not woken.done():
                    woken.set_result(None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, status: RunnerStatus) -> None:
        self.status = status

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Batches are applied and committed before the next poll, so nothing is in flight.
        log.info("partitions revoked: %s", sorted(map(str, revoked)))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log.info("partitions assigned: %s", sorted(map(str, assigned)))


class ProjectionRunner:
    """Runs one projection's consumer until cancelled."""

    def __init__(
        self,
        spec: ProjectionSpec,
        *,
        settings: ReadSettings,
        control: ControlState,
        dead_letters: DeadLetters,
        write_api: WriteApi,
        db: object,
    ) -> None:
        self.spec = spec
        self.settings = settings
        self.control = control
        self.dead_letters = dead_letters
        self.write_api = write_api
        self.db = db
        self.status = RunnerStatus()
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self._acked_at = 0.0
        self._advanced_at = 0.0
        self._persisted = 0
        self.applied = StreamWaiters()  # woken after each write, for read-your-writes
        self._memo_of: Collections | None = None
        self._memo_kept: dict[str, Any] = {}

    async def run(self) -> None:
        await self._ensure_indexes()
        while True:
            consumer = self._consumer()
            try:
                await consumer.start()
                await self._consume(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - never die silently: report, back off, retry
                if not isinstance(exc, KafkaError | PyMongoError):
                    log.exception("projection %s consumer failed", self.spec.name)
                self._unhealthy(exc)
                await asyncio.sleep(1.0)
            finally:
                await consumer.stop()

    async def _ensure_indexes(self) -> None:
        while True:
            try:
                collections = await self.control.collections(self.spec.name)
                store = DocumentStore(self.db, collections)  # type: ignore[arg-type]
                await store.ensure_indexes(self.spec.module.INDEXES)
                await self.dead_letters.ensure_indexes()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - report and retry, never end the runner
                self._unhealthy(exc)
                await asyncio.sleep(1.0)

    def _consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers,
            group_id=self.settings.group_for(self.spec.name),
            client_id=f"read-{self.spec.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            max_poll_interval_ms=600_000,
            fetch_max_wait_ms=20,
            **kafka_security_options(self.settings),
        )
        topics = [self.settings.customers_topic, self.settings.orders_topic]
        consumer.subscribe(topics, listener=_Rebalance(self.status))
        return consumer

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            if await self._hold_if_paused(consumer):
                continue
            batch = await consumer.getmany(
                timeout_ms=200, max_records=self.settings.batch_max_records
            )
            records = [delivered(m) for tp in sorted(batch, key=str) for m in batch[tp]]
            if not records:
                await self._persist_position(force=True)
                continue
            await self.process(records)
            offsets = {TopicPartition(r.topic, r.partition): r.offset + 1 for r in records}
            try:
                await consumer.commit(offsets)
            except CommitFailedError as exc:  # partitions moved on; the new owner re-applies
                log.warning("commit refused after a rebalance: %r", exc)
                continue
            self.status.committed.update(offsets)
            await self._persist_position(force=False)

    async def _persist_position(self, *, force: bool) -> None:
        """Keep the applied position for /projections across restarts (at most once a second
        while busy, and whenever the consumer goes idle)."""
        if self.status.position <= self._persisted or (
            not force and time.monotonic() - self._advanced_at < 1.0
        ):
            return
        with contextlib.suppress(PyMongoError):
            await self.control.advance(self.spec.name, self.status.position)
            self._persisted, self._advanced_at = self.status.position, time.monotonic()

    async def _hold_if_paused(self, consumer: AIOKafkaConsumer) -> bool:
        """Between batches: honour a pause, and tell the others (a rebuild waits for it)."""
        try:
            paused = await self.control.paused(self.spec.name)
        except PyMongoError as exc:  # cannot tell: hold still until MongoDB answers
            self._unhealthy(exc)
            await asyncio.sleep(1.0)
            return True
        changed = paused != self.status.paused
        if changed:
            parts = consumer.assignment()
            (consumer.pause if paused else consumer.resume)(*parts)
            self.status.paused = paused
            log.info("projection %s %s", self.spec.name, "paused" if paused else "resumed")
        if changed or time.monotonic() - self._acked_at > 1.0:
            with contextlib.suppress(PyMongoError):
                await self.control.ack(self.spec.name, self.instance, paused=paused)
                self._acked_at = time.monotonic()
        if paused:
            await asyncio.sleep(0.1)
        return paused

    async def process(self, records: Sequence[Delivered]) -> None:
        """Decode, apply (retrying while the infrastructure fails), dead-letter what cannot be."""
        events: list[tuple[Delivered, Event]] = []
        for record in records:
            try:
                events.append((record, decode(record)))
            except UnknownType as exc:
                SKIPPED.labels(self.spec.name).inc()
                log.info("skipping unknown event type %s", exc)
            except Undecodable as exc:
                await self._dead_letter(record, str(exc))
        if events:
            await self._apply_all(events)

    async def _apply_all(self, events: list[tuple[Delivered, Event]]) -> None:
        try:
            await self._apply([e for _, e in events])
        except Exception as exc:  # noqa: BLE001 - a handler failed: isolate the culprit(s)
            log.warning("batch failed (%r): applying its events one by one", exc)
            for one in events:
                await self._apply_alone(one)

    async def _apply_alone(self, item: tuple[Delivered, Event]) -> None:
        record, event = item
        error = ""
        for attempt in range(self.settings.handler_attempts):
            try:
                await self._apply([event])
                return
            except Exception as exc:  # noqa: BLE001
                error = f"{type(exc).__name__}: {exc}"
                log.warning("event %s failed (attempt %d): %s", event.event_id, attempt + 1, error)
        await self._dead_letter(record, error)

    async def _apply(self, events: list[Event]) -> None:
        """Apply until it works, as long as failures are the infrastructure's."""
        delay = 0.1
        while True:
            try:
                collections = await self.control.collections(self.spec.name)
                memo = self._memo(collections)
                store = DocumentStore(self.db, collections, memo)  # type: ignore[arg-type]
                outcome = await self.spec.apply(store, events, self._heal)
                break
            except TRANSIENT as exc:
                if not isinstance(exc, Conflict):
                    self._unhealthy(exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
            except PyMongoError as exc:
                if not _transient_mongo(exc):
                    raise
                self._unhealthy(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._progress(events, outcome.applied, outcome.skipped, outcome.gaps_healed)

    def _memo(self, collections: Collections) -> dict[str, Any]:
        """What the projection keeps between batches, for the active collections only: a
        rebuild switches to new ones, and what was kept for the old ones must not follow."""
        if self._memo_of != collections:
            self._memo_of, self._memo_kept = collections, {}
        return self._memo_kept

    async def _heal(self, stream_id: str, have: int) -> list[Event]:
        return await self.write_api.stream_events(stream_id, after_version=have)

    def _progress(self, events: list[Event], applied: int, skipped: int, gaps: int) -> None:
        name = self.spec.name
        now = time.time()
        for event in events:
            APPLY_LATENCY.labels(name).observe(max(0.0, now - event.recorded_at.timestamp()))
        APPLIED.labels(name).inc(applied)
        DUPLICATES.labels(name).inc(skipped)
        GAPS.labels(name).inc(gaps)
        self.status.position = max(self.status.position, *(e.position for e in events))
        POSITION.labels(name).set(self.status.position)
        self.status.applied += applied
        self.status.healthy, self.status.last_error = True, None
        self.applied.wake({e.stream_id for e in events})

    async def _dead_letter(self, record: Delivered, error: str) -> None:
        log.error("dead letter %s/%d@%d: %s", record.topic, record.partition, record.offset, error)
        while True:
            try:
                await self.dead_letters.add(self.spec.name, record, error)
                break
            except PyMongoError as exc:
                self._unhealthy(exc)
                await asyncio.sleep(1.0)
        DEAD_LETTERS.labels(self.spec.name).inc()

    def _unhealthy(self, exc: BaseException) -> None:
        if self.status.healthy:
            log.warning("projection %s cannot progress: %r", self.spec.name, exc)
        self.status.healthy, self.status.last_error = False, f"{type(exc).__name__}: {exc}"


def _transient_mongo(exc: PyMongoError) -> bool:
    return isinstance(exc, ConnectionFailure) or bool(getattr(exc, "timeout", False))
