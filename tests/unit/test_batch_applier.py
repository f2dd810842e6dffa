"""The live batch applier against in-memory ports: decode, apply, retry, dead-letter, commit."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from services.read.application.applier import BatchApplier
from services.read.application.healing import healer
from services.read.application.ports import Delivered
from services.read.projections import customers, order_details
from services.read.projections.base import Event, Heal, Outcome, Projection, Store
from services.read.projections.rollup import Rollups
from tests.unit.read_fakes import (
    FakeControl,
    FakeDeadLetters,
    FakeObserver,
    FakeSource,
    FakeStreams,
    FakeVersions,
    Outage,
    Records,
)

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ADDRESS = {"line1": "x", "city": "y", "postal_code": "z", "country": "FR"}


def event(stream: str, version: int, kind: str, **data: Any) -> Event:
    stream_type = "order" if kind.startswith("Order") else "customer"
    return Event(f"{stream}-{version}", stream_type, stream, version, kind, version, AT, data)


def placed(order: str, customer: str, price: str = "10.00") -> Event:
    line = {"sku": "A", "name": "Apple", "quantity": 1, "unit_price": price}
    return event(
        order,
        1,
        "OrderPlaced",
        customer_id=customer,
        currency="EUR",
        items=[line],
        shipping_address=ADDRESS,
    )


def added(order: str, version: int, quantity: int = 1) -> Event:
    return event(
        order,
        version,
        "OrderItemAdded",
        sku="A",
        name="Apple",
        quantity=quantity,
        unit_price="10.00",
    )


class World:
    """One projection's applier over fakes, and what it wrote, committed and dead-lettered."""

    def __init__(
        self, projection: Projection = order_details.PROJECTION, *, attempts: int = 3
    ) -> None:
        self.records = Records()
        self.versions = FakeVersions()
        self.control = FakeControl()
        self.dead = FakeDeadLetters()
        self.streams = FakeStreams()
        self.observer = FakeObserver()
        self.source = FakeSource()
        self.slept: list[float] = []
        self.projection = projection
        self.attempts = attempts
        self.applier = self.new_applier()

    def new_applier(self) -> BatchApplier:
        """An applier of its own (another replica, or this one restarted), on the same stores."""
        return BatchApplier(
            self.projection,
            decode=self.records.decode,
            versions=self.versions,
            control=self.control,
            dead_letters=self.dead,
            heal=healer(self.streams),
            observer=self.observer,
            attempts=self.attempts,
            sleep=self.sleep,
        )

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    @property
    def store(self) -> Any:
        return self.versions.live(self.projection.name, self.control.version)

    def doc(self, doc_id: str, role: str = "main") -> dict[str, Any]:
        found: dict[str, Any] = self.store.role(role)[doc_id]
        return found

    async def handle(
        self, records: Sequence[Delivered], applier: BatchApplier | None = None
    ) -> None:
        await (applier or self.applier).handle(self.source, records)


class Failing:
    """A projection whose apply step fails for one stream, `times` times (or always)."""

    def __init__(self, inner: Projection, stream_id: str, times: int | None) -> None:
        self.inner, self.stream_id, self.times = inner, stream_id, times
        self.failures = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def indexes(self) -> Any:
        return self.inner.indexes

    @property
    def placeholder_roles(self) -> frozenset[str]:
        return self.inner.placeholder_roles

    async def apply(
        self, store: Store, events: Sequence[Event], heal: Heal, memo: Rollups
    ) -> Outcome:
        if any(e.stream_id == self.stream_id for e in events) and (
            self.times is None or self.failures < self.times
        ):
            self.failures += 1
            raise KeyError("items")
        return await self.inner.apply(store, events, heal, memo)


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
