"""Re-send stored events to the broker from a position on (consumers dedupe on stream version).

Unlike the relay, republishing keeps no checkpoint: it is an operator's one-off repair.
"""

from collections.abc import Callable
from dataclasses import dataclass

from shared.contracts.envelope import START

from .ports import BrokerPublisher, EventFeed


@dataclass(frozen=True)
class Progress:
    """After a batch: how many events were sent (of `total`, when known), up to `position`."""

    sent: int
    total: int | None
    position: int


async def republish_events(
    feed: EventFeed,
    publisher: BrokerPublisher,
    *,
    from_position: int,
    batch_size: int,
    progress: Callable[[Progress], None],
) -> int:
    """Publish every committed event with position >= from_position; returns the count.

    The total is known (and counted) only when the whole log is sent again."""
    sent, cursor = 0, START
    try:
        total = await feed.count_outgoing(START) if from_position == 0 else None
        await publisher.start()
        while events := await feed.read_outgoing(cursor, batch_size, min_position=from_position):
            await publisher.publish(events)
            sent += len(events)
            cursor = events[-1].cursor
            progress(Progress(sent, total, cursor.position))
    finally:
        await publisher.stop()
    return sent
