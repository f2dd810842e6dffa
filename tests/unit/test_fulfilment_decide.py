"""The fulfilment process's rules, given events, when an event (or the clock) moves, then the
commands they issue: run as the runner runs them, each carried out by in-memory aggregates and
folded back into the instance until nothing is left to do."""

from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

import pytest

from services.write.domain.commands import ReceiveStock
from services.write.domain.fulfilment import (
    ClearDeadline,
    Command,
    Complete,
    ExpireOrder,
    Instance,
    MarkOrderReserved,
    RejectOrder,
    Release,
    Reserve,
    SetDeadline,
    ShipOut,
    Start,
    evolve,
)
from services.write.domain.fulfilment_events import Cause, FulfilmentEvent
from services.write.domain.fulfilment_outcomes import carry_out, stock_sku
from services.write.domain.fulfilment_rules import RULES, UnknownRules, decide
from services.write.domain.order import Order, OrderStatus, StockState
from services.write.domain.stock import StockItem
from shared.contracts.events import (
    DomainEvent,
    OrderCancelled,
    OrderConfirmed,
    OrderItemAdded,
    OrderItemRemoved,
    OrderPlaced,
    OrderShipped,
)

from .fulfilment_fakes import FakeClock

TTL = timedelta(seconds=1800)
ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}


def placed(lines: dict[str, int], tracked: tuple[str, ...]) -> OrderPlaced:
    items = [{"sku": s, "name": s, "quantity": q, "unit_price": "1.00"} for s, q in lines.items()]
    total = Decimal(sum(lines.values()))
    return OrderPlaced.model_validate(
        {"customer_id": uuid4(), "items": items, "shipping_address": ADDRESS, "currency": "EUR"}
        | {"total": total, "tracked": list(tracked)}
    )


def added(sku: str, quantity: int, tracked: bool = True) -> OrderItemAdded:
    return OrderItemAdded(
        sku=sku, name=sku, quantity=quantity, unit_price=Decimal("1.00"), tracked=tracked
    )


class World:
    """An order, the stock items of its SKUs and its process instance, all in memory."""

    def __init__(self, **on_hand: int) -> None:
        self.clock = FakeClock()
        self.order = Order(uuid4())
        self.instance = Instance(self.order.id)
        self.history: list[FulfilmentEvent] = []
        self.stock: dict[str, StockItem] = {}
        for sku, quantity in on_hand.items():
            self.stock[sku] = StockItem.for_sku(sku)
            self.stock[sku].receive(ReceiveStock(quantity=quantity))

    def given(self, *events: DomainEvent) -> list[Command]:
        return self.when(*events)

    def when(self, *events: DomainEvent) -> list[Command]:
        """The order's events happen, then the process runs until it has nothing left to do."""
        for event in events:
            self.order.apply(event)
        cause = Cause(event=events[-1].event_type(), version=self.order.version) if events else None
        return self.run(cause or Cause(event="deadline"))

    def run(self, cause: Cause) -> list[Command]:
        issued: list[Command] = []
        while (command := decide(self.instance, self.order, self.clock.now, TTL)) is not None:
            assert len(issued) < 50, f"the rules never converge: {issued}"
            sku = stock_sku(command)
            stock = self.stock[sku] if sku is not None else None
            event = carry_out(self.instance, command, cause, order=self.order, stock=stock)
            self.instance = evolve(self.instance, event)
            self.history.append(event)
            issued.append(command)
        return issued

    def held(self, sku: str) -> tuple[int, int]:
        item = self.stock[sku]
        return item.reserved, item.reservations.get(self.order.id, 0)


def test_reserving_every_tracked_line_marks_the_order_reserved_and_sets_a_deadline() -> None:
    world = World(A=5, B=1)
    issued = world.when(placed({"A": 2, "B": 1, "U": 7}, tracked=("A", "B")))
    due = world.clock.now + TTL
    assert issued == [
        Start(rules=1),
        Reserve(sku="A", quantity=2),
        Reserve(sku="B", quantity=1),
        MarkOrderReserved(),
        SetDeadline(due_at=due),
    ]
    assert world.order.stock_state is StockState.RESERVED
    assert world.held("A") == (2, 2) and world.held("B") == (1, 1)
    assert world.instance.stage == "reserved" and world.instance.deadline_at == due


def test_one_short_line_releases_the_reserved_ones_then_rejects_the_order() -> None:
    world = World(A=5, B=3, C=1)
    issued = world.when(placed({"A": 2, "B": 10, "C": 1}, tracked=("A", "B", "C")))
    assert issued == [
        Start(rules=1),
        Reserve(sku="A", quantity=2),
        Reserve(sku="B", quantity=10),
        Reserve(sku="C", quantity=1),
        Release(sku="A"),
        Release(sku="C"),
        RejectOrder(skus=("B",)),
        Complete(stage="rejected"),
    ]
    assert world.order.status is OrderStatus.REJECTED
    assert all(world.held(sku) == (0, 0) for sku in "ABC")
    assert (world.instance.state, world.instance.stage) == ("completed", "rejected")


def test_an_order_without_tracked_lines_starts_no_process() -> None:
    world = World()
    assert world.when(placed({"U": 1}, tracked=())) == []
    assert not world.instance.started


def test_an_order_no_longer_placed_when_first_seen_starts_no_process() -> None:
    world = World(A=5)
    assert world.when(placed({"A": 1}, tracked=("A",)), OrderCancelled(reason="changed")) == []


def test_a_tracked_item_added_is_reserved_and_the_order_marked_again() -> None:
    world = World(A=5, C=4)
    world.given(placed({"A": 2}, tracked=("A",)))
    deadline = world.instance.deadline_at
    assert world.when(added("C", 3)) == [Reserve(sku="C", quantity=3), MarkOrderReserved()]
    assert world.when(added("A", 1)) == [Reserve(sku="A", quantity=3), MarkOrderReserved()]
    assert world.held("A") == (3, 3) and world.held("C") == (3, 3)
    assert world.instance.deadline_at == deadline, "the deadline counts from the first hold"


def test_an_untracked_item_added_changes_nothing() -> None:
    world = World(A=5)
    world.given(placed({"A": 2}, tracked=("A",)))
    assert world.when(added("U", 3, tracked=False)) == []


def test_a_removed_item_is_released() -> None:
    world = World(A=5, B=5)
    world.given(placed({"A": 2, "B": 1}, tracked=("A", "B")))
    assert world.when(OrderItemRemoved(sku="B", quantity=1)) == [Release(sku="B")]
    assert world.held("B") == (0, 0) and world.held("A") == (2, 2)
    assert world.instance.deadline_at is not None, "A is still held"


def test_removing_the_last_tracked_line_drops_the_deadline_until_stock_is_held_again() -> None:
    world = World(A=5, B=5)
    world.given(placed({"A": 2, "U": 1}, tracked=("A",)))
    assert world.when(OrderItemRemoved(sku="A", quantity=2)) == [Release(sku="A")]
    assert world.instance.deadline_at is None
    world.clock.advance(TTL * 2)
    assert world.when() == [], "nothing held: nothing expires"
    issued = world.when(added("B", 1))
    assert issued == [
        Reserve(sku="B", quantity=1),
        MarkOrderReserved(),
        SetDeadline(due_at=world.clock.now + TTL),
    ]


def test_a_cancelled_order_releases_everything_and_completes() -> None:
    world = World(A=5, B=5)
    world.given(placed({"A": 2, "B": 1}, tracked=("A", "B")))
    issued = world.when(OrderCancelled(reason="changed my mind"))
    assert issued == [Release(sku="A"), Release(sku="B"), Complete(stage="cancelled")]
    assert world.held("A") == (0, 0) and world.held("B") == (0, 0)
    assert world.when() == []


def test_a_shipped_order_ships_everything_out_and_completes() -> None:
    world = World(A=5, B=5)
    world.given(placed({"A": 2, "B": 1}, tracked=("A", "B")))
    assert world.when(OrderConfirmed()) == [ClearDeadline()]
    issued = world.when(OrderShipped(carrier="Post", tracking_number="T1"))
    assert issued == [ShipOut(sku="A"), ShipOut(sku="B"), Complete(stage="shipped")]
    assert (world.stock["A"].on_hand, world.stock["A"].reserved) == (3, 0)
    assert (world.instance.state, world.instance.stage) == ("completed", "shipped")


def test_an_unconfirmed_order_holding_stock_expires_at_the_deadline_and_releases() -> None:
    world = World(A=5)
    world.given(placed({"A": 2}, tracked=("A",)))
    due = world.clock.now + TTL
    world.clock.advance(TTL - timedelta(seconds=1))
    assert world.when() == [], "not due yet"
    world.clock.advance(timedelta(seconds=1))
    reason = "stock reservation expired after 1800 s unconfirmed"
    issued = world.when()
    assert issued == [
        ExpireOrder(reason=reason, due_at=due),
        Release(sku="A"),
        Complete(stage="expired"),
    ]
    assert world.order.status is OrderStatus.CANCELLED and world.held("A") == (0, 0)
    assert isinstance(world.order.pending[-1], OrderCancelled)
    assert world.order.pending[-1].reason == reason
    assert world.when() == [], "expired once"


def test_an_order_confirmed_in_time_clears_its_deadline_and_never_expires() -> None:
    world = World(A=5)
    world.given(placed({"A": 2}, tracked=("A",)))
    world.clock.advance(TTL / 2)
    assert world.when(OrderConfirmed()) == [ClearDeadline()]
    assert (world.instance.stage, world.instance.deadline_at) == ("confirmed", None)
    world.clock.advance(TTL * 10)
    assert world.when() == []
    assert world.order.status is OrderStatus.CONFIRMED and world.held("A") == (2, 2)


def test_a_converged_instance_decides_nothing_even_rebuilt_from_its_events() -> None:
    world = World(A=5, B=5)
    world.given(placed({"A": 2, "B": 1}, tracked=("A", "B")))
    assert world.when() == [], "a second look at the same order issues nothing"
    rebuilt = Instance(world.order.id)
    for event in world.history:
        rebuilt = evolve(rebuilt, event)
    assert rebuilt == world.instance
    assert decide(rebuilt, world.order, world.clock.now, TTL) is None


def test_stock_held_after_the_order_left_placed_is_released() -> None:
    world = World(A=5)
    world.given(placed({"A": 2}, tracked=("A",)))
    # the order was cancelled while the process was reserving: its outcome came too late
    world.order.apply(OrderCancelled(reason="changed my mind"))
    assert world.run(Cause(event="OrderCancelled", version=2)) == [
        Release(sku="A"),
        Complete(stage="cancelled"),
    ]


def test_a_suspended_or_completed_instance_decides_nothing() -> None:
    world = World(A=5)
    world.given(placed({"A": 2}, tracked=("A",)))
    world.order.apply(OrderCancelled(reason="changed my mind"))
    for state in ("suspended", "completed"):
        instance = Instance(world.order.id, rules=1, state=state, reservations={"A": 2})
        assert decide(instance, world.order, world.clock.now, TTL) is None


def test_an_instance_keeps_the_rules_it_started_with() -> None:
    world = World(A=5)
    world.given(placed({"A": 2}, tracked=("A",)))
    later = Instance(world.order.id, rules=max(RULES) + 1)
    with pytest.raises(UnknownRules):
        decide(later, world.order, world.clock.now, TTL)
