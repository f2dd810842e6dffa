"""The relay and its loop over fakes: who publishes, what ends a term, what the checkpoint keeps."""

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from services.write.application.ports import PartialPublish
from services.write.application.relay import Backoff, Relay, RelayPace, RelayRunner, RelayStatus
from shared.contracts.cloudevents import OutgoingEvent
from tests.background import in_background
from tests.polling import poll

from .fakes import FakeCheckpoints, FakeElection, FakeEventLog, FakePublisher, FakeRelayObserver

# Waits of a millisecond: the loop turns fast, and the bounded polls below never near their limit.
PACE = RelayPace(batch_size=10, poll_seconds=0.001, linger_seconds=0)


class RecordingBackoff(Backoff):
    """Tiny delays, each one remembered."""

    def __init__(self) -> None:
        super().__init__(first=0.001, cap=0.004)
        self.delays: list[float] = []

    def next(self) -> float:
        self.delays.append(super().next())
        return self.delays[-1]


@dataclass
class RecordingStatus(RelayStatus):
    changes: list[bool] = field(default_factory=list)

    def lead(self, leading: bool) -> None:
        super().lead(leading)
        self.changes.append(leading)


class Replica:
    """A relay runner over fakes; each term's publisher fails with `failures`, in turn."""

    def __init__(self, *, taken: bool = False, pace: RelayPace = PACE) -> None:
        self.log, self.checkpoints = FakeEventLog(), FakeCheckpoints()
        self.election = FakeElection(taken=taken)
        self.publishers: list[FakePublisher] = []
        self.failures: list[Exception] = []
        self.backoff, self.status = RecordingBackoff(), RecordingStatus()
        self.observer = FakeRelayObserver()
        self.runner = RelayRunner(
            feed=self.log,
            checkpoints=self.checkpoints,
            leaderships=self.election.leadership,
            publishers=self._publisher,
            pace=pace,
            status=self.status,
            backoff=self.backoff,
            observer=self.observer,
        )

    @property
    def sent(self) -> list[OutgoingEvent]:
        return [event for publisher in self.publishers for event in publisher.sent]

    def _publisher(self) -> FakePublisher:
        publisher = FakePublisher()
        publisher.failures = self.failures
        self.publishers.append(publisher)
        return publisher


def running(replica: Replica) -> contextlib.AbstractAsyncContextManager[asyncio.Task[None]]:
    return in_background(replica.runner.run())


async def until(condition: Callable[[], bool], what: str) -> None:
    async def check() -> bool:
        return condition()

    await poll(check, what, timeout=5, interval=0.001)


async def test_a_replica_without_the_leadership_publishes_nothing_until_the_lock_is_free() -> None:
    replica = Replica(taken=True)
    replica.log.add(3)
    async with running(replica):
        await until(lambda: len(replica.election.terms) >= 3, "three attempts to lead")
        assert replica.publishers == [] and replica.checkpoints.saved == []
        assert not replica.status.leader and True not in replica.status.changes
        replica.election.taken = False
        await until(lambda: len(replica.sent) == 3, "the log published by the new leader")
        assert replica.status.leader
    assert replica.backoff.delays == []  # waiting for the lock is no failure
    assert all(term.released for term in replica.election.terms)
    assert not replica.status.leader


async def test_a_lost_leadership_ends_the_term_and_the_replica_leads_again_after_a_backoff() -> (
    None
):
    replica = Replica()
    replica.log.add(2)
    async with running(replica):
        await until(lambda: len(replica.sent) == 2, "the log published")
        first = replica.election.terms[-1]
        first.depose()
        await until(lambda: replica.election.leader not in (None, first), "a second term")
        replica.log.add(1)
        second = replica.election.leader
        assert second is not None
        second.wake()
        await until(lambda: len(replica.sent) == 3, "the new event published")
    assert first.released
    assert replica.backoff.delays == [0.001]
    assert replica.status.changes[:3] == [True, False, True]
    assert [(p.started, p.stopped) for p in replica.publishers] == [(1, 1), (1, 1)]
    assert replica.sent == replica.log.events  # the second term went on from the checkpoint


async def test_a_partial_publish_moves_the_checkpoint_past_the_acknowledged_records_only() -> None:
    log, checkpoints, publisher = FakeEventLog(), FakeCheckpoints(), FakePublisher()
    events = log.add(5)
    relay = Relay(log, publisher, checkpoints, batch_size=10)
    await relay.connect()
    publisher.failures.append(PartialPublish(3, ConnectionError("broker gone")))
    with pytest.raises(PartialPublish):
        await relay.publish_pending()
    assert checkpoints.saved == [events[2].cursor]
    assert await relay.publish_pending() == 2
    assert checkpoints.saved == [events[2].cursor, events[4].cursor]
    assert publisher.sent == events  # the acknowledged ones were not sent again


async def test_any_other_publishing_error_acknowledges_nothing() -> None:
    log, checkpoints, publisher = FakeEventLog(), FakeCheckpoints(), FakePublisher()
    events = log.add(3)
    relay = Relay(log, publisher, checkpoints, batch_size=10)
    await relay.connect()
    publisher.failures.append(TimeoutError())
    with pytest.raises(TimeoutError):
        await relay.publish_pending()
    assert checkpoints.saved == []
    assert await relay.publish_pending() == 3
    assert checkpoints.saved == [events[2].cursor]


async def test_after_failed_terms_the_next_one_sends_only_what_was_not_acknowledged() -> None:
    replica = Replica()
    events = replica.log.add(5)
    replica.failures.extend([PartialPublish(2, ConnectionError()), ConnectionError()])
    async with running(replica):
        await until(lambda: replica.checkpoints.saved[-1:] == [events[-1].cursor], "all published")
        assert replica.sent == events
        assert replica.backoff.delays == [0.001, 0.002]  # doubled: no batch went through between
        assert len(replica.election.terms) == 3
        replica.failures.append(ConnectionError())
        events += replica.log.add(1)
        await until(lambda: len(replica.sent) == 6, "the next event, in a fourth term")
    assert replica.sent == events
    assert replica.backoff.delays == [0.001, 0.002, 0.001]  # the published batch reset it


async def test_a_full_batch_is_followed_at_once_and_an_append_ends_the_wait() -> None:
    replica = Replica(pace=RelayPace(batch_size=2, poll_seconds=60, linger_seconds=0))
    replica.log.add(5)
    async with running(replica):
        await until(lambda: len(replica.sent) == 5, "three batches without waiting")
        replica.log.add(1)
        leader = replica.election.leader
        assert leader is not None
        leader.wake()
        await until(lambda: len(replica.sent) == 6, "the appended event, without the poll")
