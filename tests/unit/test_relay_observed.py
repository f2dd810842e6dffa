"""What the relay reports to its observer: leadership, what was acknowledged and when, the lag,
the failures; the metrics are made of these reports."""

from services.write.application.ports import PartialPublish
from services.write.application.relay import Relay

from .fakes import FakeCheckpoints, FakeEventLog, FakePublisher, FakeRelayObserver
from .test_relay_loop import Replica, running, until


def recorded_earlier(log: FakeEventLog, seconds: float) -> None:
    log.events = [e._replace(recorded_at=e.recorded_at - seconds) for e in log.events]


async def test_a_term_reports_its_leadership_what_it_published_and_the_lag_left() -> None:
    replica = Replica()
    replica.log.add(3)
    recorded_earlier(replica.log, 5)
    observed = replica.observer
    async with running(replica):
        await until(lambda: observed.lags[-1:] == [0], "the log published, no lag left")
        assert observed.resumed_at == [0] and observed.batches == [(3, 3)]
        replica.log.add(2)
        leader = replica.election.leader
        assert leader is not None
        leader.wake()
        await until(lambda: observed.published_count == 5, "the appended events published")
        assert observed.batches == [(3, 3), (2, 5)]
        assert observed.leadership == [True]
    assert observed.leadership == [True, False]
    assert len(observed.latencies) == 5
    assert all(latency >= 5 for latency in observed.latencies[:3])  # recorded 5 s before
    assert observed.errors == []


async def test_a_partial_publish_reports_the_acknowledged_events_and_the_failed_term() -> None:
    replica = Replica()
    failure = PartialPublish(2, ConnectionError("broker gone"))
    replica.failures.append(failure)
    replica.log.add(5)
    observed = replica.observer
    async with running(replica):
        await until(lambda: observed.published_count == 5, "all published, in a second term")
    assert observed.batches == [(2, 2), (3, 5)]
    assert observed.errors == [failure]
    assert observed.resumed_at == [0, 2]  # the second term went on from the checkpoint
    assert observed.leadership[:3] == [True, False, True]


async def test_waiting_for_the_lock_reports_neither_leadership_nor_failure() -> None:
    replica = Replica(taken=True)
    replica.log.add(2)
    async with running(replica):
        await until(lambda: len(replica.election.terms) >= 3, "three attempts to lead")
    assert True not in replica.observer.leadership
    assert replica.observer.errors == [] and replica.observer.batches == []


async def test_an_event_recorded_by_a_clock_ahead_is_acknowledged_without_delay() -> None:
    log, observed = FakeEventLog(), FakeRelayObserver()
    log.add(2)
    recorded_earlier(log, -60)  # a minute in the future
    relay = Relay(log, FakePublisher(), FakeCheckpoints(), observer=observed)
    await relay.connect()
    assert await relay.publish_pending() == 2
    assert observed.latencies == [0.0, 0.0]
    await relay.update_lag(idle=True)
    assert observed.lags == [0]
