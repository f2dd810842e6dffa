"""What the relay needs from the outside world (re-exported by ports.py)."""

from collections.abc import Sequence
from typing import Protocol

from shared.contracts.cloudevents import OutgoingEvent
from shared.contracts.envelope import Cursor


class CheckpointStore(Protocol):
    async def load(self) -> Cursor: ...

    async def save(self, cursor: Cursor) -> None: ...


class EventFeed(Protocol):
    """The commit-ordered log as the relay and the republish command read it: the events
    consumers get (never a stream internal to this service), ready to be sent."""

    async def read_outgoing(
        self, after: Cursor, limit: int, *, min_position: int = 0
    ) -> Sequence[OutgoingEvent]: ...

    async def count_outgoing(self, after: Cursor) -> int:
        """How many of those are committed after `after`."""
        ...


class BrokerPublisher(Protocol):
    """Sends stored events to the broker and waits for its acknowledgements."""

    async def start(self) -> bool:
        """Connect; True when the broker had lost what was published before."""
        ...

    async def stop(self) -> None: ...

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        """Every event acknowledged, or PartialPublish (or any error: none acknowledged)."""
        ...


class RelayObserver(Protocol):
    """What the relay reports as it runs; the composition root makes metrics of it."""

    def resumed(self, position: int) -> None:
        """A term starts from its checkpoint: the highest position published so far."""
        ...

    def published(self, latencies: Sequence[float], position: int) -> None:
        """The broker acknowledged events, each `latencies[i]` seconds after it was recorded;
        the highest position published is now `position`."""
        ...

    def lag(self, events: int) -> None:
        """Committed events not yet acknowledged by the broker."""
        ...

    def leading(self, leader: bool) -> None:
        """This process took (True) or gave up (False) the relay's leadership."""
        ...

    def publish_failed(self, error: BaseException) -> None:
        """A term ended on an error (a failed batch, the broker or database gone)."""
        ...


class PartialPublish(Exception):
    """Some records of a batch were not acknowledged; `acked` leading ones were."""

    def __init__(self, acked: int, cause: BaseException) -> None:
        super().__init__(f"{acked} records acknowledged before failure: {cause!r}")
        self.acked = acked
        self.cause = cause


class Leadership(Protocol):
    """One term of the relay's leadership among replicas, and the wake-up sent by appends.

    A term, once lost or released, is over: the next attempt takes a new Leadership.
    """

    async def try_acquire(self) -> bool:
        """Become the leader, if no other replica is; True on success."""
        ...

    @property
    def lost(self) -> bool:
        """The leadership is gone (or was never held): stop publishing."""
        ...

    async def check(self) -> None:
        """Make sure `lost` is up to date (a dead connection is noticed only when used)."""
        ...

    async def release(self) -> None: ...

    def clear_wakeup(self) -> None:
        """Forget the wake-ups so far: the log is about to be read."""
        ...

    async def wait_for_wakeup(self, timeout: float) -> None:
        """Return when events were appended since `clear_wakeup`, or after `timeout` seconds."""
        ...
