"""The live batch applier when MongoDB fails, the process crashes or the partitions move: nothing
committed before it is written, nothing applied twice."""

import asyncio

import pytest

from services.read.projections import customers
from tests.unit.applier_world import World, added, event, placed
from tests.unit.read_fakes import Outage


async def test_a_mongodb_outage_mid_batch_commits_nothing_until_all_is_written() -> None:
    world = World()
    outage = Outage(after_saves=1)  # the customers' copies are saved, then the orders are not
    world.store.fail = outage
    seen_while_down: list[int] = []

    async def sleep(seconds: float) -> None:
        world.slept.append(seconds)
        seen_while_down.append(len(world.source.commits))
        if len(world.slept) == 3:
            outage.end()

    world.applier.sleep = sleep
    world.store.role("customers")["c1"] = {
        "_id": "c1",
        "name": "Ada",
        "email": "a@x.io",
        "version": 1,
    }
    batch = [world.records.of(placed("o1", "c1")), world.records.of(added("o1", 2))]
    await world.handle(batch)
    assert seen_while_down == [0, 0, 0], "committed while the documents were not written"
    assert world.slept == [0.1, 0.2, 0.4]  # backing off, never dead-lettering
    assert len(world.observer.batches) == 1, "observed before it was written"
    assert world.dead.letters == []
    assert world.doc("o1")["version"] == 2 and world.doc("o1")["customer_name"] == "Ada"
    assert world.source.commits == [{("orders.events", 0): 2}]
    assert world.applier.status.healthy


async def test_a_crash_during_an_outage_commits_nothing_and_a_redelivery_completes_it() -> None:
    world = World()
    outage = Outage(after_saves=1)
    world.store.fail = outage

    async def crash(seconds: float) -> None:
        raise asyncio.CancelledError

    world.applier.sleep = crash
    batch = [world.records.of(placed("o1", "c1")), world.records.of(added("o1", 2))]
    with pytest.raises(asyncio.CancelledError):
        await world.handle(batch)
    assert world.source.commits == [] and "o1" not in world.store.role("main")
    outage.end()
    restarted = world.new_applier()
    await world.handle(batch, restarted)
    assert world.doc("o1")["version"] == 2
    assert world.source.commits == [{("orders.events", 0): 2}]


async def test_a_rebalance_mid_batch_commits_nothing_and_the_new_owner_applies_it_once() -> None:
    world = World(customers.PROJECTION)
    ours, theirs = world.applier, world.new_applier()
    register = world.records.of(event("c1", 1, "CustomerRegistered", name="Ada", email="a@x.io"))
    await world.handle([register, world.records.of(placed("o1", "c1", "10.00"))], ours)
    # Our next batch is applied while the partition moves to another replica: our commit is
    # refused, and the new owner gets the same records again, then more.
    batch = [world.records.of(placed("o2", "c1", "5.00"))]
    world.source.refuse = True
    await world.handle(batch, ours)
    assert world.source.commits == [{("orders.events", 0): 2}]
    assert ours.status.committed == {("orders.events", 0): 2}
    world.source.refuse = False
    await world.handle([*batch, world.records.of(placed("o3", "c1", "1.00"))], theirs)
    assert (world.doc("c1")["order_count"], world.doc("c1")["lifetime_value"]) == (3, "16.00")
    # Back to us: what we kept of c1 in memory is stale, and must not count over theirs.
    await world.handle([world.records.of(placed("o4", "c1", "2.00"))], ours)
    assert (world.doc("c1")["order_count"], world.doc("c1")["lifetime_value"]) == (4, "18.00")
    assert world.dead.letters == []
    assert world.source.commits[-1] == {("orders.events", 0): 5}


async def test_a_record_delivered_again_changes_nothing() -> None:
    world = World(customers.PROJECTION)
    batch = [world.records.of(placed("o1", "c1", "3.00"))]
    await world.handle(batch)
    before = world.doc("c1")
    await world.handle(batch)
    assert world.doc("c1") == before
    assert world.applier.status.applied == 1
    assert [(b["applied"], b["skipped"]) for b in world.observer.batches] == [(1, 0), (0, 1)]
