"""The live side of one projection: poll its topics, apply in batches, hold still when paused.

The batches themselves are the applier's (applier.py); this is the loop around them, which
(re)opens the record source after a failure and never ends until cancelled.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Coroutine
from typing import Any

from .applier import BatchApplier, Prepared, RunnerStatus
from .ports import (
    Control,
    DeadLetterSink,
    Delivered,
    OpenSource,
    RecordSource,
    Unavailable,
    Versions,
)
from .waiters import StreamWaiters

log = logging.getLogger(__name__)
# A consumer tells the others it is alive (and whether it holds still) this often, and at once
# when that changes; a rebuild counts consumers silent for 10 s as gone.
ACK_SECONDS = 4.0
# A batch starts with at most this many records (see _consume).
START_RECORDS = 2000
# While a batch is being written, the next one grows by at most this many records at a time
# (about 5 ms of decoding): the write's own steps (loads, then saves) and the start of the next
# write wait at most that long for the loop.
CHUNK_RECORDS = 250


class ProjectionRunner:
    """Runs one projection's consumer until cancelled."""

    def __init__(
        self,
        applier: BatchApplier,
        *,
        open_source: OpenSource,
        versions: Versions,
        control: Control,
        dead_letters: DeadLetterSink,
        batch_max_records: int,
    ) -> None:
        self.applier = applier
        self.open_source = open_source
        self.versions = versions
        self.control = control
        self.dead_letters = dead_letters
        self.batch_max_records = batch_max_records
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self._acked_at = 0.0
        self._advanced_at = 0.0
        self._persisted = 0

    @property
    def name(self) -> str:
        return self.applier.name

    @property
    def status(self) -> RunnerStatus:
        return self.applier.status

    @property
    def applied(self) -> StreamWaiters:
        return self.applier.applied

    async def run(self) -> None:
        await self._ensure_indexes()
        while True:
            try:
                async with self.open_source(self.name) as source:
                    source.hold(self.status.paused)
                    await self._consume(source)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - never die silently: report, back off, retry
                if not isinstance(exc, Unavailable):
                    log.exception("projection %s consumer failed", self.name)
                self.status.unhealthy(self.name, exc)
                await asyncio.sleep(1.0)

    async def _ensure_indexes(self) -> None:
        while True:
            try:
                version = await self.control.active_version(self.name)
                await self.versions.live(self.name, version).ensure_indexes(
                    self.applier.projection.indexes
                )
                await self.dead_letters.ensure_indexes()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - report and retry, never end the runner
                self.status.unhealthy(self.name, exc)
                await asyncio.sleep(1.0)

    async def _consume(self, source: RecordSource) -> None:
        """Poll and decode the next batch while the previous one is being written: the two
        overlap (decoding is this process's work, writing mostly MongoDB's), while batches are
        still applied and committed one after the other, in order. The next batch takes what
        arrives until the previous one is written (up to its limit), and its write starts as
        soon as that one ends."""
        writing: asyncio.Task[None] | None = None
        try:
            while True:
                if await self._hold_if_paused(source, writing):
                    continue
                # A batch starts small so that, with nothing being written, writing starts at
                # once; with a write under way, it is taken a chunk at a time (_gather).
                busy = writing is not None and not writing.done()
                first = CHUNK_RECORDS if busy else START_RECORDS
                records = await source.poll(min(first, self.batch_max_records))
                if not records:
                    if writing is not None:
                        await writing
                    await self._persist_position(force=True)
                    continue
                prepared = await self._gather(source, self.applier.prepare(records), writing)
                if writing is not None:
                    await writing
                writing = asyncio.create_task(self.applier.apply(source, prepared))
                # The write goes first: it folds the batch and sends its first query before
                # this loop decodes the next chunk.
                await asyncio.sleep(0)
                await self._persist_position(force=False)
        finally:
            if writing is not None and not writing.done():
                writing.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await writing

    async def _gather(
        self, source: RecordSource, prepared: Prepared, writing: "asyncio.Task[None] | None"
    ) -> Prepared:
        """While the previous batch is being written, what arrives joins this one, decoded a
        chunk at a time, so that the end of that write is seen within a chunk's decoding."""
        while writing is not None and not writing.done():
            room = min(self.batch_max_records - len(prepared.records), CHUNK_RECORDS)
            if room <= 0:
                break
            if more := await self._unless_written(source.more(room), writing):
                prepared.extend(self.applier.prepare(more))
        return prepared

    @staticmethod
    async def _unless_written(
        fetching: Coroutine[Any, Any, list[Delivered]], writing: "asyncio.Task[None]"
    ) -> list[Delivered]:
        """What `fetching` brings, or nothing if the write ends first (the records not taken
        stay with the source, for the next poll)."""
        fetched = asyncio.ensure_future(fetching)
        try:
            await asyncio.wait((fetched, writing), return_when=asyncio.FIRST_COMPLETED)
        finally:  # the write ended, or this loop is being cancelled: stop fetching
            if not fetched.done():
                fetched.cancel()
                await asyncio.wait((fetched,))
        return [] if fetched.cancelled() else fetched.result()

    async def _persist_position(self, *, force: bool) -> None:
        """Keep the applied position for /projections across restarts (at most once a second
        while busy, and whenever the consumer goes idle)."""
        if self.status.position <= self._persisted or (
            not force and time.monotonic() - self._advanced_at < 1.0
        ):
            return
        with contextlib.suppress(Unavailable):
            await self.control.advance(self.name, self.status.position)
            self._persisted, self._advanced_at = self.status.position, time.monotonic()

    async def _hold_if_paused(
        self, source: RecordSource, writing: "asyncio.Task[None] | None"
    ) -> bool:
        """Between batches: honour a pause, and tell the others (a rebuild waits for it) once
        the batch being written is written."""
        try:
            paused = await self.control.paused(self.name)
        except Unavailable as exc:  # cannot tell: hold still until MongoDB answers
            self.status.unhealthy(self.name, exc)
            await asyncio.sleep(1.0)
            return True
        if paused and writing is not None:
            await writing
        changed = paused != self.status.paused
        if changed:
            source.hold(paused)
            self.status.paused = paused
            log.info("projection %s %s", self.name, "paused" if paused else "resumed")
        if changed or time.monotonic() - self._acked_at > ACK_SECONDS:
            with contextlib.suppress(Unavailable):
                await self.control.ack(self.name, self.instance, paused=paused)
                self._acked_at = time.monotonic()
        if paused:
            await asyncio.sleep(0.1)
        return paused
