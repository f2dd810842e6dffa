"""The rebuild against in-memory ports (the applier's fakes): the live apply over a buffered
store, fed from the log, switching to the new version once caught up."""

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from services.read.application.healing import healer
from services.read.application.ports import LogPage, Unavailable
from services.read.application.rebuild import Progress, Rebuilder
from services.read.projections import PROJECTIONS, customers, order_details, sales
from services.read.projections.base import Event, Outcome, Projection, Wrapped
from tests.unit.applier_world import World, added, event, placed
from tests.unit.read_fakes import FakeLog, FakeObserver, FakeStore, FakeStreams

Docs = dict[str, dict[str, Any]]


def history() -> list[Event]:
    """Two customers and their orders, interleaved, with a cancellation and a rename; the stock
    of four SKUs received, and one of them reserved."""
    registered = event("c1", 1, "CustomerRegistered", name="Ada", email="a@x.io")
    levels = {"sku": "A", "on_hand": 5}
    received = [
        event(f"s-{sku}", 1, "StockReceived", sku=sku, on_hand=5, reserved=0, quantity=5)
        for sku in "BCD"
    ]
    return [
        event("s1", 1, "StockReceived", **levels, reserved=0, quantity=5),
        *received,
        placed("o1", "c1", "4.00"),
        registered,
        added("o1", 2, quantity=2),
        placed("o2", "c2", "3.50"),
        event("c1", 2, "CustomerRenamed", name="Ada L."),
        event("o2", 2, "OrderCancelled", reason="no"),
        placed("o3", "c1", "1.25"),
        event("c2", 1, "CustomerRegistered", name="Bob", email="b@x.io"),
        event("s1", 2, "StockReserved", **levels, reserved=2, order_id="o1", quantity=2),
        event("o3", 2, "OrderConfirmed"),
    ]


def positioned(events: list[Event]) -> list[Event]:
    """The events with their positions in the log, in this order."""
    return [Event(**{**e.__dict__, "position": n}) for n, e in enumerate(events, 1)]


def documents(store: FakeStore) -> Docs:
    return {
        role: {i: {k: v for k, v in d.items() if k != "_rev"} for i, d in docs.items()}
        for role, docs in store.docs.items()
    }


class Rebuild:
    """A rebuild of one projection over the same fakes as the live applier's (World)."""

    def __init__(self, world: World, log: FakeLog, **options: Any) -> None:
        self.world, self.log = world, log
        self.observer = FakeObserver()
        self.rebuilder = Rebuilder(
            world.projection,
            heal=healer(world.streams),
            versions=world.versions,
            control=world.control,
            log_=log,
            observer=self.observer,
            page_size=4,
            switch_grace=0,
            **options,
        )

    async def run(self) -> Progress:
        return await self.rebuilder.rebuild()


async def live(projection: Projection, events: list[Event]) -> Docs:
    world = World(projection)
    for n in range(0, len(events), 2):
        await world.handle([world.records.of(e) for e in events[n : n + 2]])
    return documents(world.store)


@pytest.mark.parametrize("budget", [10_000_000, 300])
@pytest.mark.parametrize("name", sorted(PROJECTIONS))
async def test_a_rebuild_gives_the_documents_the_live_apply_gives(name: str, budget: int) -> None:
    events = positioned(history())
    world = World(PROJECTIONS[name])
    progress = await Rebuild(world, FakeLog(events, page_size=3), buffer_bytes=budget).run()
    assert progress.phase == "done" and progress.events == len(events)
    assert world.control.version == 2 and set(world.versions.stores) == {(name, 2)}
    assert documents(world.store) == await live(PROJECTIONS[name], events)
    assert progress.documents == sum(len(docs) for docs in world.store.docs.values())
    if budget < 1000:  # documents left memory, were written early and read back
        assert progress.read_back > 0 and progress.writes > progress.documents


async def test_a_rebuild_builds_the_indexes_and_writes_each_document_once_when_it_fits() -> None:
    world = World(order_details.PROJECTION)
    progress = await Rebuild(world, FakeLog(positioned(history()))).run()
    assert world.store.indexed == {"main"}
    assert progress.writes == world.store.writes == progress.documents
    assert world.store.saves == 0, "written unguarded, in bulk"


async def test_a_rebuild_heals_a_gap_with_the_healing_it_is_given() -> None:
    events = positioned(history())
    world = World(customers.PROJECTION)
    world.streams = FakeStreams(events)
    skipped = [e for e in events if (e.stream_id, e.version) != ("c1", 1)]
    rebuild = Rebuild(world, FakeLog(skipped))
    await rebuild.run()
    assert world.streams.asked == [("c1", 0)]  # known through its orders, not registered
    assert documents(world.store) == await live(customers.PROJECTION, events)


async def test_a_rebuild_reports_its_progress_then_none_running() -> None:
    world = World(sales.PROJECTION)
    rebuild = Rebuild(world, FakeLog(positioned(history())))
    await rebuild.run()
    ratios = [ratio for name, ratio in rebuild.observer.progress if name == "sales"]
    assert ratios == sorted(ratios[:-1]) + [0.0] and ratios[-2] == 1.0
    assert not world.control.locks["sales"].held


async def test_a_rebuild_folds_each_page_as_prepared_and_prepares_the_next_during_the_fold() -> (
    None
):
    events = positioned(history())
    renamed = [
        Event(**{**e.__dict__, "data": {**e.data, "name": e.data["name"].upper()}})
        if "name" in e.data
        else e
        for e in events
    ]
    log = FakeLog(events, page_size=3)
    steps: list[str] = []

    async def prepare(page: Sequence[Event]) -> list[Event]:
        steps.append(f"prepared {page[0].position}")
        return [renamed[e.position - 1] for e in page]

    class Folding(Wrapped):
        async def apply(self, store: Any, batch: Sequence[Event], *args: Any) -> Outcome:
            steps.append(f"folding {batch[0].position}")
            await asyncio.sleep(0)  # the fold waits on its store: the next page comes meanwhile
            return await self.inner.apply(store, batch, *args)

    world = World(Folding(customers.PROJECTION))
    await Rebuild(world, log, prepare=prepare).run()
    assert documents(world.store) == await live(customers.PROJECTION, renamed)
    first = [int(step.split()[1]) for step in steps]
    assert sorted(set(first)) == [1, 4, 7, 10, 13] and steps[:3] == [
        "prepared 1",
        "folding 1",
        "prepared 4",
    ]


class BrokenLog(FakeLog):
    """A log whose second page never comes: the write service went away."""

    async def page(self, after: str | None, limit: int) -> LogPage:
        if after is not None:
            raise Unavailable("write service unreachable")
        return await super().page(after, limit)


async def test_a_rebuild_that_fails_never_switches_and_resumes_the_live_consumers() -> None:
    world = World(order_details.PROJECTION)
    with pytest.raises(Unavailable):
        await Rebuild(world, BrokenLog(positioned(history()), page_size=3)).run()
    assert world.control.version == 1 and not world.control.is_paused
    assert not world.control.locks["order_details"].held
