"""Republishing over fakes: what is sent again, the progress reported, the publisher stopped."""

import pytest

from services.write.application.republish import Progress, republish_events

from .fakes import FakeEventLog, FakePublisher


async def test_the_whole_log_is_sent_again_in_batches_with_its_total() -> None:
    log, publisher = FakeEventLog(), FakePublisher()
    progress: list[Progress] = []
    events = log.add(5)
    sent = await republish_events(
        log, publisher, from_position=0, batch_size=2, progress=progress.append
    )
    assert sent == 5 and publisher.sent == events
    assert progress == [Progress(2, 5, 2), Progress(4, 5, 4), Progress(5, 5, 5)]
    assert (publisher.started, publisher.stopped) == (1, 1)


async def test_from_a_position_only_the_later_events_are_sent_and_no_total_is_counted() -> None:
    log, publisher = FakeEventLog(), FakePublisher()
    progress: list[Progress] = []
    events = log.add(5)
    sent = await republish_events(
        log, publisher, from_position=4, batch_size=10, progress=progress.append
    )
    assert sent == 2 and publisher.sent == events[3:]
    assert progress == [Progress(2, None, 5)]


async def test_a_failed_publish_stops_the_publisher_and_goes_up() -> None:
    log, publisher = FakeEventLog(), FakePublisher()
    log.add(3)
    publisher.failures.append(ConnectionError("broker gone"))
    with pytest.raises(ConnectionError):
        await republish_events(log, publisher, from_position=0, batch_size=10, progress=print)
    assert publisher.stopped == 1
