"""The relay: publish the event store's log to the broker in commit order, from one replica.

The checkpoint moves only past records the broker acknowledged, so a crash or a broker outage
re-sends (consumers dedupe) but never skips.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from shared.contracts.cloudevents import OutgoingEvent
from shared.contracts.envelope import START

from .leading import Backoff as Backoff, lead_forever
from .ports import (
    BrokerPublisher,
    CheckpointStore,
    EventFeed,
    Leadership,
    PartialPublish,
    RelayObserver,
)

log = logging.getLogger(__name__)


class Unobserved:
    """A RelayObserver that drops every report (where nobody watches: a test, a tool)."""

    def resumed(self, position: int) -> None:
        pass

    def published(self, latencies: Sequence[float], position: int) -> None:
        pass

    def lag(self, events: int) -> None:
        pass

    def leading(self, leader: bool) -> None:
        pass

    def publish_failed(self, error: BaseException) -> None:
        pass


class Relay:
    """Reads the log after the checkpoint and publishes it, batch by batch."""

    def __init__(
        self,
        feed: EventFeed,
        publisher: BrokerPublisher,
        checkpoints: CheckpointStore,
        *,
        batch_size: int = 1000,
        observer: RelayObserver | None = None,
    ) -> None:
        self._feed = feed
        self._publisher = publisher
        self._checkpoints = checkpoints
        self._batch_size = batch_size
        self._observer = observer or Unobserved()
        self._cursor = START
        self._published_position = 0
        self._lag_at = 0.0

    async def connect(self) -> None:
        """Connect to the broker; replay the whole history if the broker lost its topics."""
        lost = await self._publisher.start()
        self._cursor = await self._checkpoints.load()
        self._published_position = self._cursor.position
        self._observer.resumed(self._published_position)
        if lost and self._cursor != START:
            log.warning("the broker lost its topics: publishing the history again")
            self._cursor = START
            self._published_position = 0
            await self._checkpoints.save(START)

    async def disconnect(self) -> None:
        await self._publisher.stop()

    async def publish_pending(self) -> int:
        """Publish one batch after the checkpoint; returns how many events were published."""
        events = await self._feed.read_outgoing(self._cursor, self._batch_size)
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
            await self._advance(events[:acked], acknowledged_at=time.time())
        if failure is not None:
            raise failure
        return acked

    async def update_lag(self, *, idle: bool) -> None:
        """Count the unpublished events: whenever idle (cheap then), else once a second, as
        counting a long backlog after every batch would slow the catch-up it measures."""
        if not idle and time.monotonic() - self._lag_at < 1.0:
            return
        self._observer.lag(await self._feed.count_outgoing(self._cursor))
        self._lag_at = time.monotonic()

    async def _advance(self, events: Sequence[OutgoingEvent], *, acknowledged_at: float) -> None:
        self._cursor = events[-1].cursor
        await self._checkpoints.save(self._cursor)
        self._published_position = max(self._published_position, *(e.position for e in events))
        latencies = [max(0.0, acknowledged_at - e.recorded_at) for e in events]
        self._observer.published(latencies, self._published_position)


class LeadershipLost(Exception):
    """The relay's leadership is gone (the connection holding its lock, say)."""


@dataclass
class RelayStatus:
    """What this process's relay is doing, for /health/ready."""

    leader: bool = False

    def lead(self, leading: bool) -> None:
        self.leader = leading


@dataclass(frozen=True)
class RelayPace:
    """How much the relay publishes at once and how long it waits between batches."""

    batch_size: int = 1000
    # The longest wait for a wake-up; five times this between attempts to become the leader.
    poll_seconds: float = 1.0
    # While events keep coming, the wait between batches, so that each carries more.
    linger_seconds: float = 0.01


class RelayRunner:
    """Runs forever (until cancelled): one active relay among all replicas.

    Each attempt to lead takes a new Leadership, and each term a new publisher, from the
    factories; the feed and the checkpoints are shared by every term.
    """

    def __init__(
        self,
        *,
        feed: EventFeed,
        checkpoints: CheckpointStore,
        leaderships: Callable[[], Leadership],
        publishers: Callable[[], BrokerPublisher],
        pace: RelayPace | None = None,
        status: RelayStatus | None = None,
        backoff: Backoff | None = None,
        observer: RelayObserver | None = None,
    ) -> None:
        self._feed = feed
        self._checkpoints = checkpoints
        self._leaderships = leaderships
        self._publishers = publishers
        self._pace = pace or RelayPace()
        self.status = status or RelayStatus()
        self._backoff = backoff or Backoff()
        self._observer = observer or Unobserved()

    async def run(self) -> None:
        await lead_forever(
            name="relay",
            leaderships=self._leaderships,
            lead=self._lead,
            set_leader=self._set_leader,
            interrupted=self._observer.publish_failed,
            backoff=self._backoff,
            poll_seconds=self._pace.poll_seconds,
            log=log,
        )

    def _set_leader(self, leading: bool) -> None:
        self.status.lead(leading)
        self._observer.leading(leading)

    async def _lead(self, leadership: Leadership) -> None:
        """Publish until the leadership is lost or an error interrupts."""
        pace = self._pace
        publisher, observer = self._publishers(), self._observer
        relay = Relay(
            self._feed, publisher, self._checkpoints, batch_size=pace.batch_size, observer=observer
        )
        try:
            await relay.connect()
            while True:
                await self._step(relay, leadership)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(relay.disconnect(), timeout=5)

    async def _step(self, relay: Relay, leadership: Leadership) -> None:
        """One batch; unless it was full (more are waiting), then wait for appends."""
        pace = self._pace
        leadership.clear_wakeup()
        published = await relay.publish_pending()
        self._backoff.reset()
        await relay.update_lag(idle=published < pace.batch_size)
        if published == pace.batch_size:
            return
        await leadership.wait_for_wakeup(pace.poll_seconds)
        if published:  # busy: let the next batch gather (an idle relay wakes at once)
            await asyncio.sleep(pace.linger_seconds)
        await leadership.check()
        if leadership.lost:
            raise LeadershipLost()
