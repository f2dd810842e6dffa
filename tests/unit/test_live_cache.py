"""What a consumer keeps in memory between batches: read once, and never written over what
another writer changed since."""

from typing import Any

from services.read.application.cache import CachedStore, DocumentCache
from services.read.projections import customers
from tests.unit.applier_world import World, added, event, placed
from tests.unit.read_fakes import FakeStore, Outage


def other_writer(store: FakeStore, role: str, doc_id: str, **changes: Any) -> None:
    """Another replica, or the consumer that owned the partition before, writes a document."""
    doc = store.role(role)[doc_id]
    store.role(role)[doc_id] = {**doc, **changes, "_rev": doc["_rev"] + 1}


async def test_a_documents_own_stream_is_read_from_mongodb_once() -> None:
    world = World()
    world.store.role("main")["o1"] = {**await placed_order(), "_rev": 1}  # from earlier batches
    await world.handle([world.records.of(added("o1", 2))])
    await world.handle([world.records.of(added("o1", 3))])
    await world.handle([world.records.of(added("o1", 4))])
    assert world.store.loaded.count(("main", "o1")) == 1
    assert world.doc("o1")["version"] == 4 and world.doc("o1")["item_count"] == 4


async def test_a_stream_that_begins_in_the_batch_is_not_looked_for() -> None:
    world = World()
    await world.handle([world.records.of(placed("o1", "c1")), world.records.of(added("o1", 2))])
    assert ("main", "o1") not in world.store.loaded
    assert world.doc("o1")["version"] == 2


async def test_a_beginning_delivered_again_finds_its_document_and_changes_nothing() -> None:
    world = World()
    batch = [world.records.of(placed("o1", "c1")), world.records.of(added("o1", 2))]
    await world.handle(batch)
    restarted = world.new_applier()  # nothing kept: the insert of o1 fails on its id
    await world.handle(batch, restarted)
    assert world.store.loaded.count(("main", "o1")) == 1  # read after the conflict
    assert (world.doc("o1")["version"], world.doc("o1")["item_count"]) == (2, 2)
    assert world.doc("o1")["_rev"] == 1 and world.dead.letters == []


async def test_after_a_beginning_delivered_again_only_its_document_is_read() -> None:
    world = World()
    await world.handle([world.records.of(placed("o1", "c1"))])
    restarted = world.new_applier()  # nothing kept; o1's first event comes again with others
    batch = [world.records.of(placed(f"o{n}", "c1")) for n in range(1, 6)]
    await world.handle([*batch, world.records.of(added("o1", 2))], restarted)
    assert world.store.loaded.count(("main", "o1")) == 1  # read after its insert failed
    assert [i for role, i in world.store.loaded if role == "main"] == ["o1"]
    assert [world.doc(f"o{n}")["_rev"] for n in range(1, 6)] == [2, 1, 1, 1, 1]
    assert (world.doc("o1")["version"], world.doc("o1")["item_count"]) == (2, 2)
    later = [added("o1", 3), *(added(f"o{n}", 2) for n in range(2, 6))]
    await world.handle([world.records.of(e) for e in later], restarted)
    assert [i for role, i in world.store.loaded if role == "main"] == ["o1"]  # the rest kept
    assert [world.doc(f"o{n}")["version"] for n in range(1, 6)] == [3, 2, 2, 2, 2]


async def placed_order() -> dict[str, Any]:
    """An order as the projection writes it after its first event."""
    world = World()
    await world.handle([world.records.of(placed("o1", "c1"))])
    return {k: v for k, v in world.doc("o1").items() if k != "_rev"}


async def test_a_document_another_writer_changed_is_folded_again_not_overwritten() -> None:
    world = World()
    await world.handle([world.records.of(placed("o1", "c1"))])
    # c1's consumer (another replica) renames the customer in the order meanwhile
    other_writer(world.store, "main", "o1", customer_name="Ada", customer_version=2)
    await world.handle([world.records.of(added("o1", 2))])
    order = world.doc("o1")
    assert (order["customer_name"], order["customer_version"]) == ("Ada", 2), "overwritten"
    assert (order["version"], order["item_count"], order["_rev"]) == (2, 2, 3)
    assert world.store.loaded.count(("main", "o1")) == 1  # read after the conflict


async def test_after_a_rebalance_nothing_kept_before_it_is_used() -> None:
    world = World()
    await world.handle([world.records.of(placed("o1", "c1"))])
    await world.handle([world.records.of(added("o1", 2))])
    assert world.store.loaded.count(("main", "o1")) == 0  # kept since it began
    world.source.generation += 1  # our partitions changed: another consumer may write them
    await world.handle([world.records.of(added("o1", 3))])
    assert world.store.loaded.count(("main", "o1")) == 1


async def test_after_a_rebuilds_switch_the_new_version_is_read_not_what_was_kept() -> None:
    world = World()
    await world.handle([world.records.of(placed("o1", "c1"))])
    old = world.store
    world.control.version = 2  # the rebuild wrote version 2 and switched to it
    world.store.role("main")["o1"] = {**old.role("main")["o1"], "note": "rebuilt", "_rev": 1}
    await world.handle([world.records.of(added("o1", 2))])
    assert world.doc("o1")["note"] == "rebuilt" and world.doc("o1")["version"] == 2
    assert old.role("main")["o1"]["version"] == 1, "the old version was written"


async def test_a_copy_of_another_consumers_stream_is_read_every_time() -> None:
    """order_details reads a customer's copy to denormalize an order: no write of ours would
    catch a stale copy, so a customer whose events go to another consumer is never kept."""
    world = World()
    world.store.role("customers")["c1"] = {
        "_id": "c1",
        "name": "Ada",
        "email": "a@x.io",
        "version": 1,
        "_rev": 1,
    }
    await world.handle([world.records.of(placed("o1", "c1"))])
    other_writer(world.store, "customers", "c1", name="Ada L.", version=2)
    await world.handle([world.records.of(placed("o2", "c1"))])
    assert world.doc("o2")["customer_name"] == "Ada L."


async def test_a_copy_of_our_own_stream_is_kept() -> None:
    world = World()
    registered = event("c1", 1, "CustomerRegistered", name="Ada", email="a@x.io")
    await world.handle([world.records.of(registered)])
    await world.handle([world.records.of(placed("o1", "c1"))])
    await world.handle([world.records.of(placed("o2", "c1"))])
    assert world.store.loaded.count(("customers", "c1")) == 0  # kept since it began
    assert world.doc("o2")["customer_name"] == "Ada"


async def test_a_write_that_failed_forgets_what_it_was_writing() -> None:
    store, cache = FakeStore(), DocumentCache(100)
    cache.owned.add("o1")
    cached = CachedStore(store, cache)
    await cached.save("main", {"o1": {"_id": "o1", "version": 1}}, {})
    assert cache.get("main", "o1") == {"_id": "o1", "version": 1, "_rev": 1}
    store.fail = Outage()
    try:
        await cached.save(
            "main", {"o1": {"_id": "o1", "version": 2}}, {"o1": store.docs["main"]["o1"]}
        )
    except Exception:  # noqa: BLE001
        pass
    assert cache.get("main", "o1") is None


async def test_the_rollups_of_a_customer_written_by_another_replica_are_summed_again() -> None:
    world = World(customers.PROJECTION)
    registered = event("c1", 1, "CustomerRegistered", name="Ada", email="a@x.io")
    await world.handle([world.records.of(registered), world.records.of(placed("o1", "c1", "4.00"))])
    # another replica applies an order of c1 (its partition) and writes c1's figures
    theirs = world.new_applier()
    await world.handle([world.records.of(placed("o2", "c1", "6.00"))], theirs)
    await world.handle([world.records.of(placed("o3", "c1", "1.00"))])
    assert (world.doc("c1")["order_count"], world.doc("c1")["lifetime_value"]) == (3, "11.00")


def test_the_cache_keeps_at_most_its_budget_least_recently_used_out() -> None:
    cache = DocumentCache(2)
    for doc_id in ("a", "b", "c"):
        cache.put("main", doc_id, {"_id": doc_id})
    assert (cache.get("main", "a"), len(cache)) == (None, 2)


async def test_a_customer_known_first_through_its_orders_is_looked_for_when_it_registers() -> None:
    world = World(customers.PROJECTION)
    await world.handle([world.records.of(placed("o1", "c1", "4.00"))])  # c1 not registered yet
    assert (world.doc("c1")["version"], world.doc("c1")["order_count"]) == (0, 1)
    saves = world.store.saves
    registered = event("c1", 1, "CustomerRegistered", name="Ada", email="a@x.io")
    await world.handle([world.records.of(registered)])
    assert ("main", "c1") in world.store.loaded  # its first event, yet its document exists
    assert world.store.saves == saves + 1, "written once, without a conflict"
    customer = world.doc("c1")
    assert (customer["name"], customer["version"], customer["order_count"]) == ("Ada", 1, 1)
    assert customer["lifetime_value"] == "4.00" and customer["_rev"] == 2
