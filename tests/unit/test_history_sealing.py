"""The loop of `make encrypt-history` over a fake sealer: batches until none is left or the
limit, counts added up, progress after each batch."""

from services.write.application.history_sealing import (
    SealedBatch,
    SealingCounts,
    SealingRun,
    seal_history,
)


class FakeHistorySealer:
    """Batches of a log of `events` events, every other one clear."""

    def __init__(self, events: int) -> None:
        self.events, self.position, self.asked = events, 0, 0

    async def seal_next(self, limit: int) -> SealedBatch | None:
        self.asked += 1
        taken = min(limit, self.events - self.position)
        if taken == 0:
            return None
        self.position += taken
        counts = SealingCounts(scanned=taken, rewritten=taken // 2, values_sealed=taken)
        return SealedBatch(counts, self.position, self.events)

    async def clear_left(self) -> int:
        return 0


async def test_batches_until_none_is_left() -> None:
    sealer, seen = FakeHistorySealer(5), []

    def progress(run: SealingRun, batch: SealedBatch) -> None:
        seen.append((run.batches, batch.position))

    run = await seal_history(sealer, batch_size=2, progress=progress)
    assert run.finished and run.batches == 3 and run.position == 5
    assert (run.counts.scanned, run.counts.rewritten, run.counts.values_sealed) == (5, 2, 5)
    assert seen == [(1, 2), (2, 4), (3, 5)]


async def test_stops_after_max_batches_unfinished() -> None:
    sealer = FakeHistorySealer(10)
    run = await seal_history(sealer, batch_size=3, max_batches=2, progress=lambda *_: None)
    assert not run.finished and run.batches == 2 and run.position == 6
    assert sealer.asked == 2
