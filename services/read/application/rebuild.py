"""Blue/green rebuild of one projection from the write service's complete log.

A rebuild is the live apply (the projection's `apply`, gaps healed the same way) over a buffered
store (buffer.py), fed from the write service's log instead of Kafka.

Version n + 1 is built beside the active version n, which keeps serving and updating. Once the
new version has caught up with the head, the live consumers are paused, the last events are
folded in, the active version is switched in one write, the consumers resume, and version n is
dropped. Until the switch nothing serves the new version, so a crash can never expose it; the
next run drops whatever a crashed one left behind.
"""

import asyncio
import logging
import resource
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from shared.plumbing.tracing import span

from ..projections.base import Event, Heal, Projection
from ..projections.rollup import Rollups
from .buffer import DEFAULT_BUFFER_BYTES, BufferedStore
from .ports import Control, EventLog, Lock, LogPage, Observer, Unobserved, Versions

log = logging.getLogger(__name__)
# A rebuild's pause of the live consumers lapses this long after its last renewal, so a rebuild
# that dies never leaves them paused for good.
PAUSE_LEASE_SECONDS = 60
# While MongoDB writes the last documents or builds indexes (no pages to count), the rebuild
# renews its lock and the pause this often: well within LEASE_SECONDS and PAUSE_LEASE_SECONDS.
HEARTBEAT_SECONDS = 5.0


@dataclass
class Progress:
    """What the operator sees while a rebuild runs, and in its closing summary."""

    projection: str
    phase: str = "starting"
    events: int = 0
    total: int = 0
    documents: int = 0
    started: float = 0.0
    elapsed: float = 0.0
    peak_rss_mb: float = 0.0
    target_version: int = 0
    replay_seconds: float = 0.0  # reading and folding the log (both passes)
    writing_seconds: float = 0.0  # writing what was still in memory once the log was folded
    indexing_seconds: float = 0.0  # MongoDB building the new version's indexes
    pausing_seconds: float = 0.0  # waiting for the live consumers to hold still
    switched_after: float = 0.0  # from the start until the new version served
    writes: int = 0  # document writes to MongoDB (a document that left memory twice counts twice)
    read_back: int = 0  # documents read back from MongoDB after leaving memory

    @property
    def rate(self) -> float:
        """Events per second of replay (writing, indexing, the switch and clean-up are not
        counted)."""
        return self.events / self.replay_seconds if self.replay_seconds > 0 else 0.0

    @property
    def ratio(self) -> float:
        return min(1.0, self.events / self.total) if self.total else 0.0

    @property
    def eta(self) -> float | None:
        left = self.total - self.events
        return left / self.rate if self.rate > 0 and left > 0 else None


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss may be inherited from a larger parent)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# What is done to a page's events while the page before is folded (their personal values opened)
Prepare = Callable[[Sequence[Event]], Awaitable[list[Event]]]


class Rebuilder:
    """Rebuilds one projection, given (as `BatchApplier` is) the projection and how to heal
    gaps; `on_progress` is called after every page."""

    def __init__(
        self,
        projection: Projection,
        *,
        heal: Heal,
        versions: Versions,
        control: Control,
        log_: EventLog,
        observer: Observer | None = None,
        page_size: int = 2000,
        on_progress: Callable[[Progress], None] = lambda p: None,
        switch_grace: float = 2.0,
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        prepare: Prepare | None = None,
    ) -> None:
        self.projection, self.heal = projection, heal
        self.prepare = prepare
        self.buffer_bytes = buffer_bytes
        self.versions = versions
        self.control = control  # read fresh: what the live consumers acknowledged, not a cache
        self.log = log_
        self.observer = observer or Unobserved()
        self.page_size = page_size
        self.on_progress = on_progress
        self.switch_grace = switch_grace

    async def rebuild(self) -> Progress:
        """Replay the log into a new version, pause the live consumers for the final catch-up,
        switch to it; traced, one span with a child per phase."""
        name = self.projection.name
        with span(f"rebuild {name}", attributes={"ordering.projection": name}):
            try:
                return await self._rebuild(name)
            finally:
                self.observer.rebuild_progress(name, 0.0)  # none running

    async def _rebuild(self, projection: str) -> Progress:
        lock = self.control.lock(projection)
        state = await self.control.get(projection, fresh=True)
        active = int(state["active_version"])
        progress = Progress(projection, started=time.monotonic(), target_version=active + 1)
        await lock.acquire(target_version=active + 1, phase="starting")
        switched = False
        try:
            await self.versions.drop_except(projection, keep=active)
            bulk = self.versions.bulk(projection, active + 1)
            store = BufferedStore(bulk, budget_bytes=self.buffer_bytes)
            await store.ensure_indexes(self.projection.indexes)
            progress.total = await self.log.head_position()
            memo = Rollups()  # one for the whole replay: the new version has no other writer
            replay = Replay(store, lock, memo)
            cursor = await self._replay(replay, progress, None, "replaying")
            pausing = time.monotonic()
            await self._pause(projection, lock, progress)
            progress.pausing_seconds = time.monotonic() - pausing
            await self._replay(replay, progress, cursor, "final catch-up", paused=True)
            progress.writes, progress.read_back = store.written, store.read_back
            with span("rebuild switch", attributes={"ordering.version": active + 1}):
                await self.control.set(
                    projection, active_version=active + 1, previous_version=active
                )
            switched = True
            progress.switched_after = time.monotonic() - progress.started
            await self.control.set(projection, paused_until=None)
            progress.phase = "switched"
            await asyncio.sleep(self.switch_grace)  # readers still on the old name finish
            await self.versions.drop_except(projection, keep=active + 1)
            progress.documents = store.documents
            progress.phase = "done"
        finally:
            if not switched:
                await self.control.set(projection, paused_until=None)
            progress.elapsed = time.monotonic() - progress.started
            progress.peak_rss_mb = peak_rss_mb()
            await lock.release(phase=progress.phase, events=progress.events, ratio=progress.ratio)
        return progress

    async def _replay(
        self,
        replay: "Replay",
        progress: Progress,
        cursor: str | None,
        phase: str,
        *,
        paused: bool = False,
    ) -> str | None:
        """Fold the log from `cursor` to its head into the new version, page by page."""
        with span(f"rebuild {phase}"):
            return await self._replay_pages(replay, progress, cursor, phase, paused)

    async def _replay_pages(
        self, replay: "Replay", progress: Progress, cursor: str | None, phase: str, paused: bool
    ) -> str | None:
        progress.phase = phase
        store, lock = replay.store, replay.lock
        began, before = time.monotonic(), progress.replay_seconds
        fetch = asyncio.create_task(self._page(cursor))
        try:
            while True:
                page = await fetch
                cursor = page.next
                if page.has_more:  # fetch (and prepare) the next page while this one is folded
                    fetch = asyncio.create_task(self._page(cursor))
                if page.events:
                    await self.projection.apply(store, page.events, self.heal, replay.memo)
                for unknown in page.unknown:
                    self.observer.unknown_type(progress.projection, unknown)
                progress.replay_seconds = before + time.monotonic() - began
                # Rows passed over were read all the same: the progress is the log's.
                read = len(page.events) + page.passed_over
                await self._advance(progress, lock, read, phase, paused)
                if not page.has_more:
                    await self._write_out(store, progress, lock, paused)
                    return cursor
        finally:
            fetch.cancel()

    async def _page(self, cursor: str | None) -> LogPage:
        page = await self.log.page(cursor, self.page_size)
        if self.prepare and page.events:
            page = replace(page, events=await self.prepare(page.events))
        return page

    async def _write_out(
        self, store: BufferedStore, progress: Progress, lock: Lock, paused: bool
    ) -> None:
        """All of it in MongoDB, indexed, before the next phase; the phases show as progress."""
        beating = asyncio.create_task(self._heartbeat(progress, lock, paused))
        try:
            started = time.monotonic()
            await self._enter(progress, lock, "writing documents")
            with span("rebuild writing documents"):
                await store.write_changed()
            progress.writing_seconds += time.monotonic() - started
            if store.indexes_pending:
                started = time.monotonic()
                await self._enter(progress, lock, "building indexes")
                with span("rebuild building indexes"):
                    await store.build_indexes()
                progress.indexing_seconds += time.monotonic() - started
        finally:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)

    async def _enter(self, progress: Progress, lock: Lock, phase: str) -> None:
        progress.phase = phase
        progress.elapsed = time.monotonic() - progress.started
        await lock.update(phase=phase)
        self.on_progress(progress)

    async def _heartbeat(self, progress: Progress, lock: Lock, paused: bool) -> None:
        """Keep the lock (and the pause, if held) while there are no pages to count."""
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await lock.update(phase=progress.phase)
            if paused:
                await self._extend_pause(progress.projection)

    async def _advance(
        self, progress: Progress, lock: Lock, count: int, phase: str, paused: bool
    ) -> None:
        progress.events += count
        progress.total = max(progress.total, progress.events)
        progress.elapsed = time.monotonic() - progress.started
        eta = round(progress.eta, 1) if progress.eta is not None else None
        await lock.update(
            phase=phase,
            events=progress.events,
            total=progress.total,
            ratio=progress.ratio,
            rate=round(progress.rate, 1),
            eta_seconds=eta,
        )
        if paused:  # keep the live consumers' pause from lapsing while we finish
            await self._extend_pause(progress.projection)
        self.observer.rebuild_progress(progress.projection, progress.ratio)
        self.on_progress(progress)

    async def _pause(self, projection: str, lock: Lock, progress: Progress) -> None:
        """Pause the live consumers (a lease: it lapses if this process dies) and wait for them."""
        with span("rebuild pausing live consumers"):
            await self._pause_consumers(projection, lock, progress)

    async def _pause_consumers(self, projection: str, lock: Lock, progress: Progress) -> None:
        progress.phase = "pausing live consumers"
        deadline = time.monotonic() + 30
        while True:
            await self._extend_pause(projection)
            await lock.update(phase=progress.phase)
            if await self.control.all_paused(projection):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the live consumers did not pause within 30 s")
            await asyncio.sleep(0.1)

    async def _extend_pause(self, projection: str) -> None:
        until = datetime.now(UTC) + timedelta(seconds=PAUSE_LEASE_SECONDS)
        await self.control.set(projection, paused_until=until)


@dataclass(frozen=True)
class Replay:
    """What the two passes of one rebuild share: the new version's store, the lock, the memo."""

    store: BufferedStore
    lock: Lock
    memo: Rollups
