"""The stock projection's folds, and what stock and fulfilment change in the order projections:
events built from the contracts, folded as the projections fold them."""

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, get_args
from uuid import UUID, uuid4

import pytest

from services.read.entrypoints.ops_schemas import ProjectionName
from services.read.projections import PROJECTIONS, customers, order_details, sales, stock
from services.read.projections.base import Docs, Event, Gap, fold_events
from services.read.queries.orders import public
from shared.contracts.events import (
    DomainEvent,
    OrderItemAdded,
    OrderItemRemoved,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    OrderStockReserved,
    ShippingAddress,
    StockAdjusted,
    StockReceived,
    StockReleased,
    StockReservationRefused,
    StockReserved,
    StockShippedOut,
    stock_stream_id,
)
from tests.sales_days import day_document

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SKU = "APL-1"
ITEM = str(stock_stream_id(SKU))
ORDER = uuid4()


def recorded(stream: str, version: int, event: DomainEvent, actor: str | None = None) -> Event:
    """`event` as the projections see it: its data as the contract serializes it."""
    return Event(
        event_id=f"{stream}-{version}",
        stream_type=event.stream_type,
        stream_id=stream,
        version=version,
        event_type=event.event_type(),
        position=version,
        recorded_at=AT,
        data=event.model_dump(mode="json"),
        actor=actor,
    )


def fold(folds: Any, events: list[Event], healed: dict[str, list[Event]] | None = None) -> Docs:
    docs = Docs()
    fold_events(docs, events, folds, healed or {})
    return docs


def item_history(order: UUID = ORDER) -> list[Event]:
    """A SKU's stock: 10 received, 4 reserved then 6, 2 broken, 6 shipped out, 5 received."""
    levels = {"sku": SKU}
    return [
        recorded(ITEM, n, e)
        for n, e in enumerate(
            [
                StockReceived(**levels, on_hand=10, reserved=0, quantity=10),
                StockReserved(**levels, on_hand=10, reserved=4, order_id=order, quantity=4),
                StockReservationRefused(
                    **levels, on_hand=10, reserved=4, order_id=uuid4(), quantity=7, available=6
                ),
                StockReserved(**levels, on_hand=10, reserved=6, order_id=order, quantity=6),
                StockAdjusted(**levels, on_hand=8, reserved=6, quantity=-2, reason="broken"),
                StockShippedOut(**levels, on_hand=2, reserved=0, order_id=order, quantity=6),
                StockReceived(**levels, on_hand=7, reserved=0, quantity=5),
            ],
            1,
        )
    ]


def item(docs: Docs) -> dict[str, Any]:
    doc = docs.get("main", ITEM)
    assert doc is not None
    return doc


def test_every_projection_is_listed_where_the_api_names_them() -> None:
    assert get_args(ProjectionName) == tuple(PROJECTIONS)
    assert PROJECTIONS["stock"] is stock.PROJECTION


def test_a_stock_document_holds_the_levels_of_the_latest_event() -> None:
    history = item_history()
    shown = [
        {k: v for k, v in item(fold(stock.FOLDS, history[:n])).items() if k != "_id"}
        for n in range(1, len(history) + 1)
    ]
    levels = [(10, 0), (10, 4), (10, 4), (10, 6), (8, 6), (2, 0), (7, 0)]
    assert shown == [
        {"sku": SKU, "on_hand": h, "reserved": r, "available": h - r, "version": n}
        for n, (h, r) in enumerate(levels, 1)
    ]
    assert item(fold(stock.FOLDS, history))["_id"] == ITEM


def test_duplicates_and_older_events_of_an_item_change_nothing() -> None:
    history = item_history()
    docs = Docs()
    applied, skipped = fold_events(docs, [*history, history[3], history[0]], stock.FOLDS, {})
    assert (applied, skipped) == (len(history), 2)
    assert item(docs) == item(fold(stock.FOLDS, history))


def test_a_gap_in_an_items_stream_is_healed_before_its_levels_are_taken() -> None:
    history = item_history()
    with pytest.raises(Gap) as gap:
        fold(stock.FOLDS, [history[0], history[4]])
    assert (gap.value.stream_id, gap.value.have, gap.value.want) == (ITEM, 1, 5)
    healed = fold(stock.FOLDS, [history[0], history[4]], {ITEM: history[1:4]})
    assert item(healed) == item(fold(stock.FOLDS, history[:5]))


def test_a_stream_that_does_not_begin_with_a_receipt_is_refused() -> None:
    released = StockReleased(sku=SKU, on_hand=3, reserved=0, order_id=ORDER, quantity=1)
    with pytest.raises(ValueError, match="never began"):
        fold(stock.FOLDS, [recorded(ITEM, 1, released)])


def test_events_of_other_streams_make_no_stock_document() -> None:
    history = item_history()
    others = [
        Event(**{**e.__dict__, "stream_type": t})
        for e, t in zip(history, ("order", "customer"), strict=False)
    ]
    assert fold(stock.FOLDS, others).changed == {}


# -- what stock changes in the order projections ------------------------------------------------

CUSTOMER = str(uuid4())
ORDER_ID = str(ORDER)
ADDRESS = ShippingAddress(line1="1 Quay St", city="Lyon", postal_code="69001", country="FR")


def line(sku: str, quantity: int = 1, price: str = "2.50") -> OrderLine:
    return OrderLine(sku=sku, name=sku.title(), quantity=quantity, unit_price=Decimal(price))


def order(
    *steps: DomainEvent, tracked: tuple[str, ...] = (), actor: str | None = None
) -> list[Event]:
    """An order of A (1 at 2.50) and B (2 at 2.50), placed with `tracked`, then `steps`."""
    lines = [line("A"), line("B", 2)]
    placed = OrderPlaced(
        customer_id=CUSTOMER,
        items=lines,
        shipping_address=ADDRESS,
        currency="EUR",
        total=Decimal("7.50"),
        tracked=list(tracked),
    )
    return [recorded(ORDER_ID, n, e, actor) for n, e in enumerate([placed, *steps], 1)]


def details(events: list[Event]) -> dict[str, Any]:
    doc = fold(order_details.FOLDS, events).get("main", ORDER_ID)
    assert doc is not None
    return doc


def stock_state(events: list[Event]) -> str | None:
    shown = details(events).get("stock")
    return None if shown is None else str(shown["state"])


def test_an_order_without_tracked_lines_is_the_document_it_always_was() -> None:
    """No `stock`, no `rejection`, no hidden field, and added items without `tracked`."""
    events = order(OrderItemAdded(sku="C", name="C", quantity=1, unit_price=Decimal("1.00")))
    assert events[1].data["tracked"] is False  # as the contract serializes it now
    before = [Event(**{**e.__dict__, "data": _without_tracked(e.data)}) for e in events]
    assert details(events) == details(before)
    assert set(details(events)) == set(details(order())) == FIRST_VERSION_FIELDS
    assert [set(item) for item in details(events)["items"]] == [set(LINE)] * 3


FIRST_VERSION_FIELDS = {
    "_id", "order_id", "version", "customer_id", "customer_name", "customer_email",
    "customer_version", "currency", "items", "shipping_address", "carrier", "tracking_number",
    "cancel_reason", "placed_at", "status_history", "status", "updated_at", "total",
    "item_count",
}  # fmt: skip
LINE = ("sku", "name", "quantity", "unit_price", "line_total")


def _without_tracked(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "tracked"}


def added(sku: str, *, tracked: bool) -> OrderItemAdded:
    return OrderItemAdded(
        sku=sku, name=sku, quantity=1, unit_price=Decimal("1.00"), tracked=tracked
    )


def test_an_orders_stock_is_pending_until_every_tracked_line_is_reserved() -> None:
    reserved = OrderStockReserved(skus=["A"])
    assert stock_state(order(tracked=("A",))) == "pending"
    assert stock_state(order(reserved, tracked=("A",))) == "reserved"
    # a tracked item added asks for stock again; an untracked one changes nothing
    assert stock_state(order(reserved, added("C", tracked=True), tracked=("A",))) == "pending"
    assert stock_state(order(reserved, added("C", tracked=False), tracked=("A",))) == "reserved"
    # an order placed untracked becomes tracked with its first tracked item
    assert stock_state(order(added("C", tracked=True))) == "pending"
    assert "_tracked" not in public(details(order(tracked=("A",))))


def test_removing_the_last_tracked_line_leaves_an_order_not_tracked() -> None:
    steps: list[DomainEvent] = [added("C", tracked=True), OrderItemRemoved(sku="A", quantity=1)]
    assert stock_state(order(*steps, tracked=("A",))) == "pending"  # C is still tracked
    steps += [added("D", tracked=False), OrderItemRemoved(sku="D", quantity=1)]
    assert stock_state(order(*steps, tracked=("A",))) == "pending"  # D never was
    steps.append(OrderItemRemoved(sku="C", quantity=1))
    assert stock_state(order(*steps, tracked=("A",))) == "not_tracked"  # B alone is left
    steps.append(added("A", tracked=True))
    assert stock_state(order(*steps, tracked=("A",))) == "pending"


def test_a_rejected_order_says_why_who_rejected_it_and_which_skus_were_short() -> None:
    events = order(OrderRejected(reason="out_of_stock", skus=["B"]), tracked=("A", "B"))
    events[1] = replace(events[1], actor="process:fulfilment")
    doc = details(events)
    assert doc["status"] == "rejected"
    assert doc["rejection"] == {"reason": "out_of_stock", "skus": ["B"]}
    assert [(h["status"], h["version"], h.get("by")) for h in doc["status_history"]] == [
        ("placed", 1, None),
        ("rejected", 2, "process:fulfilment"),
    ]
    assert doc["stock"] == {"state": "pending"}  # never reserved
    assert (doc["total"], doc["item_count"], doc["version"]) == ("7.50", 3, 2)


def test_a_rejected_order_counts_for_its_customer_but_adds_no_value() -> None:
    kept = fold(customers.FOLDS, order(tracked=("A",))).get("orders", ORDER_ID)
    rejected = order(OrderRejected(reason="out_of_stock", skus=["A"]), tracked=("A",))
    gone = fold(customers.FOLDS, rejected).get("orders", ORDER_ID)
    assert kept is not None and gone is not None and gone["status"] == "rejected"
    assert customers.totals([kept, {**gone, "_id": "o-2"}]) == (2, "7.50")
    assert customers.contribution(gone) == {customers.COUNT: 1}


def test_a_rejected_order_counts_on_its_day_as_a_cancelled_one() -> None:
    kept = fold(sales.FOLDS, order(tracked=("A",))).get("orders", ORDER_ID)
    rejected = order(OrderRejected(reason="out_of_stock", skus=["A"]), tracked=("A",))
    gone = fold(sales.FOLDS, rejected).get("orders", ORDER_ID)
    assert kept is not None and gone is not None
    day = day_document("2026-11-22", [kept, {**gone, "_id": "o-2"}])
    assert (day["orders_placed"], day["orders_cancelled"], day["units"]) == (2, 1, 3)
    assert (day["revenue"], day["average_order_value"]) == ("7.50", "7.50")
    assert [p["sku"] for p in day["products"]] == ["A", "B"]
    alone = day_document("2026-11-22", [gone])
    assert (alone["orders_cancelled"], alone["revenue"], alone["products"]) == (1, "0.00", [])
