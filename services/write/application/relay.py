"""The relay loop: publish the event store's log to the broker in commit order.

The checkpoint moves only past records the broker acknowledged, so a crash or a broker outage
re-sends (consumers dedupe) but never skips.
"""

import logging
import time
from collections.abc import Sequence

from shared.contracts.envelope import START, RecordedEvent

from ..metrics import OUTBOX_LAG, PUBLISHED, PUBLISHED_POSITION
from .ports import BrokerPublisher, CheckpointStore, EventFeed, PartialPublish

log = logging.getLogger(__name__)


class Relay:
    """Reads the log after the checkpoint and publishes it, batch by batch."""

    def __init__(
        self,
        feed: EventFeed,
        publisher: BrokerPublisher,
        checkpoints: CheckpointStore,
        *,
        batch_size: int = 1000,
    ) -> None:
        self._feed = feed
        self._publisher = publisher
        self._checkpoints = checkpoints
        self._batch_size = batch_size
        self._cursor = START
        self._published_position = 0
        self._lag_at = 0.0

    async def connect(self) -> None:
        """Connect to the broker; replay the whole history if the broker lost its topics."""
        lost = await self._publisher.start()
        self._cursor = await self._checkpoints.load()
        self._published_position = self._cursor.position
        PUBLISHED_POSITION.set(self._published_position)
        if lost and self._cursor != START:
            log.warning("the broker lost its topics: publishing the history again")
            self._cursor = START
            self._published_position = 0
            await self._checkpoints.save(START)

    async def disconnect(self) -> None:
        await self._publisher.stop()

    async def publish_pending(self) -> int:
        """Publish one batch after the checkpoint; returns how many events were published."""
        events = await self._feed.read_all(self._cursor, self._batch_size)
        if not events:
            return 0
        acked = len(events)
        failure: BaseException | None = None
        try:
            await self._publisher.publish(events)
        except PartialPublish as exc:
            acked, failure = exc.acked, exc
        except Exception as exc:
            acked, failure = 0, exc
        if acked:
            await self._advance(events[:acked])
        if failure is not None:
            raise failure
        return acked

    async def update_lag(self, *, idle: bool) -> None:
        """Count the unpublished events: whenever idle (cheap then), else once a second, as
        counting a long backlog after every batch would slow the catch-up it measures."""
        if not idle and time.monotonic() - self._lag_at < 1.0:
            return
        OUTBOX_LAG.set(await self._feed.count_after(self._cursor))
        self._lag_at = time.monotonic()

    async def _advance(self, events: Sequence[RecordedEvent]) -> None:
        self._cursor = events[-1].cursor
        await self._checkpoints.save(self._cursor)
        self._published_position = max(self._published_position, *(e.position for e in events))
        PUBLISHED.inc(len(events))
        PUBLISHED_POSITION.set(self._published_position)
