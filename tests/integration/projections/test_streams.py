"""The projections over the worked history: whatever the interleaving of customer and order
streams, the batch size, duplicates or version gaps healed on the way, the documents come out
the same as the history's applied in commit order."""

from collections import Counter
from collections.abc import Callable

import pytest

from services.read.projections.base import Event
from tests.integration.projections.projecting import (
    Arrange,
    Databases,
    Snapshot,
    assert_same,
    batched,
    customers_first,
    each_batch_twice,
    each_event_twice_in_its_batch,
    orders_first,
    project,
    random_merge,
    whole_history_twice,
)
from tests.integration.projections.worked_history import History
from tests.read_side import snapshot

pytestmark = pytest.mark.integration


def assert_stream_orders_kept(arranged: list[Event], events: list[Event]) -> None:
    assert sorted(e.event_id for e in arranged) == sorted(e.event_id for e in events)
    seen: dict[str, int] = {}
    for event in arranged:
        assert event.version == seen.get(event.stream_id, 0) + 1
        seen[event.stream_id] = event.version


ARRANGEMENTS: list[tuple[str, Arrange, int]] = [
    ("customers-first", customers_first, 50),
    ("customers-first", customers_first, 1),
    ("orders-first", orders_first, 50),
    ("orders-first", orders_first, 1),
    ("random-7", random_merge(7), 1),
    ("random-11", random_merge(11), 50),
    ("random-23", random_merge(23), 4),
]


@pytest.mark.parametrize(
    ("arrange", "size"),
    [pytest.param(a, s, id=f"{name}-batch{s}") for name, a, s in ARRANGEMENTS],
)
async def test_any_interleaving_of_streams_gives_the_same_documents(
    history: History, reference: Snapshot, new_db: Databases, arrange: Arrange, size: int
) -> None:
    events = arrange(history.events)
    assert_stream_orders_kept(events, history.events)
    assert events != history.events
    db = new_db()
    await project(db, batched(events, size), keys=history.keys)
    assert_same(await snapshot(db), reference)


@pytest.mark.parametrize(
    "redeliver", [each_batch_twice, whole_history_twice, each_event_twice_in_its_batch]
)
async def test_duplicates_change_nothing(
    history: History,
    reference: Snapshot,
    new_db: Databases,
    redeliver: Callable[[list[Event]], list[list[Event]]],
) -> None:
    db = new_db()
    await project(db, redeliver(history.events), keys=history.keys)
    assert_same(await snapshot(db), reference)


@pytest.mark.parametrize("size", [1, 50])
async def test_version_gaps_are_healed_from_the_history(
    history: History, reference: Snapshot, new_db: Databases, size: int
) -> None:
    shipped, cancelled = history.orders[0], history.orders[7]
    renamed = history.customers[3]
    dropped = {(shipped, 2), (shipped, 3), (cancelled, 1), (renamed, 1)}
    calls: list[tuple[str, int]] = []

    async def heal(stream_id: str, have: int) -> list[Event]:
        calls.append((stream_id, have))
        return [e for e in history.events if e.stream_id == stream_id and e.version > have]

    events = [e for e in history.events if (e.stream_id, e.version) not in dropped]
    assert len(events) == len(history.events) - len(dropped)
    db = new_db()
    await project(db, batched(events, size), heal, keys=history.keys)
    assert_same(await snapshot(db), reference)
    # order_details and customers fold both stream types; sales only orders
    assert Counter(calls) == {(shipped, 1): 3, (cancelled, 0): 3, (renamed, 0): 2}
