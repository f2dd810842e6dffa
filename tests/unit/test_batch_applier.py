"""The live batch applier against in-memory ports: decode, apply, retry, dead-letter, commit."""

from services.read.projections import order_details
from tests.unit.applier_world import Failing, World, added, placed


async def test_a_batch_is_applied_then_committed_past_its_last_record() -> None:
    world = World()
    batch = [world.records.of(placed("o1", "c1")), world.records.of(added("o1", 2))]
    await world.handle(batch)
    assert world.doc("o1")["item_count"] == 2
    assert world.source.commits == [{("orders.events", 0): 2}]
    assert world.applier.status.committed == {("orders.events", 0): 2}
    assert world.applier.status.applied == 2 and world.applier.status.position == 2
    [seen] = world.observer.batches
    assert (seen["projection"], seen["applied"], seen["skipped"], seen["position"]) == (
        "order_details",
        2,
        0,
        2,
    )
    assert len(seen["latencies"]) == 2 and min(seen["latencies"]) >= 0


async def test_a_poison_record_is_dead_lettered_and_the_rest_applied_and_committed() -> None:
    world = World()
    first, poison = world.records.of(placed("o1", "c1")), world.records.poison()
    last = world.records.of(added("o1", 2))
    await world.handle([first, poison, last])
    assert [(p, r, e) for p, r, e in world.dead.letters] == [
        ("order_details", poison, "cannot decode record: not JSON")
    ]
    assert world.observer.dead == ["order_details"]
    assert world.doc("o1")["version"] == 2
    assert world.source.commits == [{("orders.events", 0): 3}]


async def test_an_event_of_an_unknown_type_is_skipped_not_dead_lettered() -> None:
    world = World()
    await world.handle([world.records.unknown(), world.records.of(placed("o1", "c1"))])
    assert world.dead.letters == [] and world.observer.dead == []
    assert world.observer.unknown == [("order_details", "OrderTeleported")]
    assert world.doc("o1")["version"] == 1
    assert world.source.commits == [{("orders.events", 0): 2}]


async def test_a_handler_failing_then_succeeding_applies_the_event_and_dead_letters_nothing() -> (
    None
):
    world = World()
    world.projection = Failing(
        order_details.PROJECTION, "o2", times=2
    )  # the batch, then once alone
    world.applier = world.new_applier()
    batch = [world.records.of(placed("o1", "c1")), world.records.of(placed("o2", "c1"))]
    await world.handle(batch)
    assert world.dead.letters == []
    assert {world.doc("o1")["version"], world.doc("o2")["version"]} == {1}
    assert world.source.commits == [{("orders.events", 0): 2}]


async def test_a_handler_failing_every_attempt_dead_letters_that_record_only() -> None:
    world = World(attempts=3)
    failing = Failing(order_details.PROJECTION, "o2", times=None)
    world.projection = failing
    world.applier = world.new_applier()
    good, bad = world.records.of(placed("o1", "c1")), world.records.of(placed("o2", "c1"))
    await world.handle([good, bad])
    assert [(r, e) for _, r, e in world.dead.letters] == [(bad, "KeyError: 'items'")]
    assert failing.failures == 1 + 3  # the whole batch once, then each attempt alone
    assert world.doc("o1")["version"] == 1 and "o2" not in world.store.role("main")
    assert world.source.commits == [{("orders.events", 0): 2}]  # past the dead letter too


async def test_a_version_gap_is_healed_from_the_write_service() -> None:
    world = World()
    world.streams.events = [placed("o1", "c1"), added("o1", 2), added("o1", 3)]
    await world.handle([world.records.of(placed("o1", "c1")), world.records.of(added("o1", 3))])
    assert world.streams.asked == [("o1", 1)]
    assert world.doc("o1")["version"] == 3 and world.doc("o1")["item_count"] == 3
    assert world.observer.total("gaps_healed") == 1 and world.observer.total("applied") == 3
    assert world.dead.letters == []


async def test_a_gap_the_write_service_cannot_heal_dead_letters_the_event_after_it() -> None:
    world = World()
    first, after_gap = world.records.of(placed("o1", "c1")), world.records.of(added("o1", 3))
    await world.handle([first, after_gap])
    assert [r for _, r, _ in world.dead.letters] == [after_gap]
    assert world.doc("o1")["version"] == 1
    assert world.source.commits == [{("orders.events", 0): 2}]
