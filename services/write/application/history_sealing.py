"""Sealing, in place, the personal values of events stored clear before sealing existed.

The one exception to the log's immutability: an event's personal values are rewritten from
their clear form to their sealed form (the same values, under the customer's key), nothing
else of the event changes. Resumable and idempotent: a checkpoint follows the log in commit
order, and values already sealed are skipped, so a second run rewrites nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Protocol


@dataclass
class SealingCounts:
    """What a batch (or, added up, a run) did; counts only, never a value."""

    scanned: int = 0  # events holding personal data read
    rewritten: int = 0  # of them, rewritten (they held clear values)
    values_sealed: int = 0  # clear values sealed
    shredded: int = 0  # rewritten events of erased customers, sealed under no kept key
    keys_made: int = 0  # customers given their first data key
    left_as_they_were: int = 0  # events not rewritten (no customer named, other schema version)

    def add(self, other: "SealingCounts") -> None:
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class SealedBatch:
    """One batch committed: its counts and where the checkpoint now stands."""

    counts: SealingCounts
    position: int  # the last event's position the batch covered (0: none yet)
    head: int  # the log's highest position when the batch ran


class HistorySealer(Protocol):
    """The event store's rewrite of clear personal values (adapter: history_sealing.py)."""

    async def seal_next(self, limit: int) -> SealedBatch | None:
        """Seal the next `limit` events holding personal data after the checkpoint, and move
        it past them, in one transaction; None when none is left (committed so far)."""
        ...

    async def clear_left(self) -> int:
        """How many events still hold a clear personal value, anywhere in the log."""
        ...


@dataclass
class SealingRun:
    """A run's totals, and how many batches it took."""

    counts: SealingCounts = field(default_factory=SealingCounts)
    batches: int = 0
    position: int = 0
    finished: bool = False  # no event was left after the checkpoint


async def seal_history(
    sealer: HistorySealer,
    *,
    batch_size: int,
    max_batches: int | None = None,
    progress: Callable[[SealingRun, SealedBatch], None],
) -> SealingRun:
    """Batches until none is left (or `max_batches` were done); `progress` after each."""
    run = SealingRun()
    while max_batches is None or run.batches < max_batches:
        batch = await sealer.seal_next(batch_size)
        if batch is None:
            run.finished = True
            break
        run.counts.add(batch.counts)
        run.batches += 1
        run.position = batch.position
        progress(run, batch)
    return run
