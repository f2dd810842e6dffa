"""One projection's batches: decode, apply (retrying while the infrastructure fails), dead-letter
what cannot be applied, and commit only what was written.

A crash or a refused commit re-delivers (the version marks make a re-delivery a no-op), never
loses an event: offsets are committed only once the batch's documents are written.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from opentelemetry.trace import SpanKind

from shared.plumbing.tracing import links_to, span

from ..projections.base import Event, Heal, Outcome, Projection
from ..projections.rollup import Rollups
from .cache import CachedStore, DocumentCache
from .ports import (
    Conflict,
    Control,
    DeadLetterSink,
    Decode,
    Delivered,
    Observer,
    Partition,
    RecordSource,
    Unavailable,
    Undecodable,
    UnknownType,
    Unobserved,
    Versions,
)
from .waiters import StreamWaiters

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class RunnerStatus:
    """What /projections, readiness and the lag monitor read about a running projection."""

    committed: dict[Partition, int] = field(default_factory=dict)
    position: int = 0
    applied: int = 0
    healthy: bool = True
    last_error: str | None = None
    paused: bool = False

    def unhealthy(self, name: str, exc: BaseException) -> None:
        if self.healthy:
            log.warning("projection %s cannot progress: %r", name, exc)
        self.healthy, self.last_error = False, f"{type(exc).__name__}: {exc}"


@dataclass
class Prepared:
    """A batch decoded: its events, and what is not to be applied (types unknown here, records
    that are not events of ours)."""

    records: list[Delivered]
    events: list[tuple[Delivered, Event]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # their types
    undecodable: list[tuple[Delivered, str]] = field(default_factory=list)

    def extend(self, later: "Prepared") -> None:
        """Add a later batch to this one."""
        self.records += later.records
        self.events += later.events
        self.unknown += later.unknown
        self.undecodable += later.undecodable


@dataclass
class Kept:
    """What a consumer keeps in memory between batches for one version of its projection."""

    version: int
    memo: Rollups
    cache: DocumentCache


class BatchApplier:
    """Applies one projection's batches of records; knows the outside only by its ports.

    Between batches it keeps the documents of the streams it owns (cache.py) and the
    projection's rollups, both for the active version only, and both forgotten when the
    consumer's partitions change.
    """

    def __init__(
        self,
        projection: Projection,
        *,
        decode: Decode,
        versions: Versions,
        control: Control,
        dead_letters: DeadLetterSink,
        heal: Heal,
        attempts: int,
        observer: Observer | None = None,
        cache_documents: int = 20_000,
        status: RunnerStatus | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.projection = projection
        self.decode = decode
        self.versions = versions
        self.control = control
        self.dead_letters = dead_letters
        self.heal = heal
        self.attempts = attempts
        self.observer = observer or Unobserved()
        self.status = status or RunnerStatus()
        self.sleep = sleep
        self.applied = StreamWaiters()  # woken after each write, for read-your-writes
        self.cache_documents = cache_documents
        self._kept = self._nothing_kept(0)
        self._generation = 0

    @property
    def name(self) -> str:
        return self.projection.name

    async def handle(self, source: RecordSource, records: Sequence[Delivered]) -> None:
        """Apply a batch, then commit past it (unless the partitions moved on meanwhile)."""
        await self.apply(source, self.prepare(records))

    def prepare(self, records: Sequence[Delivered]) -> "Prepared":
        """Decode a batch (no I/O: the loop does it while the previous batch is written)."""
        prepared = Prepared(list(records))
        for record in records:
            try:
                prepared.events.append((record, self.decode(record)))
            except UnknownType as exc:
                prepared.unknown.append(str(exc))  # the exception names the type
            except Undecodable as exc:
                prepared.undecodable.append((record, str(exc)))
        return prepared

    async def apply(self, source: RecordSource, prepared: "Prepared") -> None:
        """Apply a decoded batch (retrying while the infrastructure fails), dead-letter what
        cannot be applied, then commit past it (unless the partitions moved on meanwhile).
        Traced, the batch is one span linked to the trace of each of its events."""
        links = links_to(event.traceparent for _, event in prepared.events)
        attributes = {"ordering.projection": self.name, "ordering.records": len(prepared.records)}
        with span(f"apply {self.name}", attributes=attributes, links=links, kind=SpanKind.CONSUMER):
            await self._apply_batch(source, prepared)

    async def _apply_batch(self, source: RecordSource, prepared: "Prepared") -> None:
        if source.generation != self._generation:  # partitions moved: others may have written
            self._generation = source.generation
            self.forget()
        for unknown in prepared.unknown:
            self.observer.unknown_type(self.name, unknown)
            log.info("skipping unknown event type %s", unknown)
        for record, error in prepared.undecodable:
            await self._dead_letter(record, error)
        if prepared.events:
            await self._apply_all(prepared.events)
        offsets: dict[Partition, int] = {}
        for record in prepared.records:
            offsets[record.topic, record.partition] = record.offset + 1
        if await source.commit(offsets):
            self.status.committed.update(offsets)

    async def replay(self, record: Delivered) -> None:
        """Apply one record once, as it stands (a dead letter, at an operator's demand), raising
        whatever stops it; an event of a type this version does not know needs nothing."""
        try:
            event = self.decode(record)
        except UnknownType:
            return
        version = await self.control.active_version(self.name)
        store = self.versions.live(self.name, version)
        await self.projection.apply(store, [event], self.heal, Rollups())

    def forget(self) -> None:
        """Drop what is kept between batches: it may no longer be what MongoDB holds."""
        self._kept = self._nothing_kept(self._kept.version)

    async def _apply_all(self, events: list[tuple[Delivered, Event]]) -> None:
        """Apply the events together; when that fails, in halves, down to the culprits alone."""
        try:
            await self._apply([e for _, e in events])
        except Exception as exc:  # noqa: BLE001 - a handler failed: isolate the culprit(s)
            if len(events) == 1:
                await self._apply_alone(events[0], exc)
                return
            log.warning("batch of %d failed (%r): applying it in halves", len(events), exc)
            half = len(events) // 2
            await self._apply_all(events[:half])
            await self._apply_all(events[half:])

    async def _apply_alone(self, item: tuple[Delivered, Event], failure: Exception) -> None:
        """An event that failed alone: tried again up to `attempts` in all, then dead-lettered."""
        record, event = item
        error = f"{type(failure).__name__}: {failure}"
        log.warning("event %s failed (attempt 1): %s", event.event_id, error)
        for attempt in range(1, self.attempts):
            try:
                await self._apply([event])
                return
            except Exception as exc:  # noqa: BLE001
                error = f"{type(exc).__name__}: {exc}"
                log.warning("event %s failed (attempt %d): %s", event.event_id, attempt + 1, error)
        await self._dead_letter(record, error)

    async def _apply(self, events: list[Event]) -> None:
        """Apply until it works, as long as failures are the infrastructure's."""
        delay, conflicts = 0.1, 0
        while True:
            try:
                kept = self._kept_for(await self.control.active_version(self.name))
                kept.cache.owned.update(e.stream_id for e in events)
                kept.cache.beginning = {e.stream_id for e in events if e.version == 1}
                if conflicts:  # fold again from MongoDB, assuming nothing
                    kept.cache.beginning.clear()
                store = CachedStore(self.versions.live(self.name, kept.version), kept.cache)
                outcome = await self.projection.apply(store, events, self.heal, kept.memo)
                break
            except Conflict as exc:  # another writer was first: fold again from what it wrote
                conflicts += 1
                log.info("projection %s: %s; folding the batch again", self.name, exc)
            except (Unavailable, OSError, TimeoutError) as exc:
                self.status.unhealthy(self.name, exc)
                await self.sleep(delay)
                delay = min(delay * 2, 5.0)
        self._progress(events, outcome)

    def _kept_for(self, version: int) -> Kept:
        """What is kept between batches, for the active version only: a rebuild switches to a
        new one, and what was kept for the old one must not follow."""
        if version != self._kept.version:
            self._kept = self._nothing_kept(version)
        return self._kept

    def _nothing_kept(self, version: int) -> Kept:
        cache = DocumentCache(self.cache_documents, self.projection.placeholder_roles)
        return Kept(version, Rollups(), cache)

    def _progress(self, events: list[Event], outcome: Outcome) -> None:
        now = time.time()
        self.status.position = max(self.status.position, *(e.position for e in events))
        self.observer.applied(
            self.name,
            applied=outcome.applied,
            skipped=outcome.skipped,
            gaps_healed=outcome.gaps_healed,
            latencies=[max(0.0, now - e.recorded_at.timestamp()) for e in events],
            position=self.status.position,
        )
        self.status.applied += outcome.applied
        self.status.healthy, self.status.last_error = True, None
        self.applied.wake({e.stream_id for e in events})

    async def _dead_letter(self, record: Delivered, error: str) -> None:
        log.error("dead letter %s/%d@%d: %s", record.topic, record.partition, record.offset, error)
        while True:
            try:
                await self.dead_letters.add(self.name, record, error, attempts=self.attempts)
                break
            except Unavailable as exc:
                self.status.unhealthy(self.name, exc)
                await self.sleep(1.0)
        self.observer.dead_letter(self.name)
