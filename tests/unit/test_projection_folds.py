from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from services.read.projections import customers, order_details, sales
from services.read.projections.base import Docs, Event, Gap, fold_events
from services.write.domain.commands import AddOrderItem, PlaceOrder, RemoveOrderItem
from services.write.domain.order import Order
from tests.sales_days import day_document

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ORDER, CUSTOMER = "o-1", "c-1"


def event(stream: str, version: int, kind: str, **data: Any) -> Event:
    stream_type = "order" if kind.startswith("Order") else "customer"
    return Event(f"{stream}-{version}", stream_type, stream, version, kind, version, AT, data)


PLACED = event(
    ORDER,
    1,
    "OrderPlaced",
    customer_id=CUSTOMER,
    currency="EUR",
    total="21.00",
    items=[{"sku": "A", "name": "Apple", "quantity": 2, "unit_price": "10.50"}],
    shipping_address={"line1": "x", "city": "y", "postal_code": "z", "country": "FR"},
)
ADDED = event(ORDER, 2, "OrderItemAdded", sku="A", name="Apple", quantity=1, unit_price="10.50")
CANCELLED = event(ORDER, 3, "OrderCancelled", reason="no")
REGISTERED = event(CUSTOMER, 1, "CustomerRegistered", name="Ada", email="Ada@X.io")


def fold(folds: Any, events: list[Event], healed: dict[str, list[Event]] | None = None) -> Docs:
    docs = Docs()
    fold_events(docs, events, folds, healed or {})
    return docs


def test_order_document_totals_and_history() -> None:
    doc = fold(order_details.FOLDS, [PLACED, ADDED]).get("main", ORDER)
    assert doc is not None
    assert (doc["total"], doc["item_count"], doc["version"]) == ("31.50", 3, 2)
    assert doc["items"][0]["line_total"] == "31.50"
    assert [h["status"] for h in doc["status_history"]] == ["placed"]


def test_duplicates_are_no_ops_and_gaps_are_reported() -> None:
    docs = Docs()
    assert fold_events(docs, [PLACED, ADDED, ADDED, PLACED], order_details.FOLDS, {}) == (2, 2)
    with pytest.raises(Gap) as gap:
        fold(order_details.FOLDS, [PLACED, CANCELLED])
    assert (gap.value.have, gap.value.want) == (1, 3)
    healed = fold(order_details.FOLDS, [PLACED, CANCELLED], {ORDER: [ADDED]})
    doc = healed.get("main", ORDER)
    assert doc is not None and doc["status"] == "cancelled" and doc["version"] == 3


def test_denormalize_takes_only_newer_customer_data() -> None:
    order = fold(order_details.FOLDS, [PLACED]).get("main", ORDER)
    customer = fold(order_details.FOLDS, [REGISTERED]).get("customers", CUSTOMER)
    assert order is not None and customer is not None
    assert order_details.denormalize(order, customer)
    assert order["customer_name"] == "Ada"
    assert not order_details.denormalize(order, {**customer, "name": "Old", "version": 0})


def test_customer_totals_exclude_cancelled_value() -> None:
    docs = fold(customers.FOLDS, [PLACED, ADDED])
    order = docs.get("orders", ORDER)
    assert order is not None and order["total"] == "31.50"
    cancelled = {**order, "_id": "o-2", "status": "cancelled"}
    assert customers.totals([order, cancelled]) == (2, "31.50")


def test_day_document_counts_cancelled_orders_but_not_their_revenue() -> None:
    kept = fold(sales.FOLDS, [PLACED, ADDED]).get("orders", ORDER)
    gone = fold(sales.FOLDS, [PLACED, ADDED, CANCELLED]).get("orders", ORDER)
    assert kept is not None and gone is not None
    day = day_document("2026-11-22", [kept, {**gone, "_id": "o-2"}])
    assert (day["orders_placed"], day["orders_cancelled"], day["units"]) == (2, 1, 3)
    assert (day["revenue"], day["average_order_value"]) == ("31.50", "31.50")
    assert day["products"] == [{"sku": "A", "name": "Apple", "units": 3, "revenue": "31.50"}]


def test_status_changes_say_who_made_them_when_the_event_does() -> None:
    placed = replace(PLACED, actor="ada")
    doc = fold(order_details.FOLDS, [placed, ADDED, CANCELLED]).get("main", ORDER)
    assert doc is not None
    assert [(h["status"], h.get("by", "-")) for h in doc["status_history"]] == [
        ("placed", "ada"),
        ("cancelled", "-"),  # no actor recorded: no `by` at all
    ]


def test_every_projection_folds_an_orders_lines_and_total_as_the_domain_does() -> None:
    """One fold of the lines (projections/lines.py) under the three projections, and the write
    side's Order, give the same lines and total over the same events."""
    order = Order(uuid4())
    order.place(
        PlaceOrder(
            customer_id=uuid4(),
            items=[
                {"sku": "A", "name": "Apple", "quantity": 2, "unit_price": "10.50"},
                {"sku": "B", "name": "Bread", "quantity": 1, "unit_price": "3.35"},
            ],
            shipping_address={"line1": "x", "city": "y", "postal_code": "z", "country": "FR"},
            currency="EUR",
        )
    )
    order.add_item(AddOrderItem(sku="A", name="Apple", quantity=3, unit_price="10.50"))
    order.add_item(AddOrderItem(sku="C", name="Cheese", quantity=1, unit_price="7.99"))
    order.remove_item(RemoveOrderItem(sku="B"))
    events = [
        event(ORDER, n, e.event_type(), **e.model_dump(mode="json"))
        for n, e in enumerate(order.pending, 1)
    ]
    lines = {sku: (line.quantity, str(line.unit_price)) for sku, line in order.lines.items()}
    total = str(order.total)
    details = fold(order_details.FOLDS, events).get("main", ORDER)
    assert details is not None and details["total"] == total
    assert type(details["status"]) is str, "documents hold what MongoDB gives back"
    assert {i["sku"]: (i["quantity"], i["unit_price"]) for i in details["items"]} == lines
    kept = fold(customers.FOLDS, events).get("orders", ORDER)
    assert (
        kept is not None
        and kept["total"] == total
        and kept["lines"] == {sku: list(line) for sku, line in lines.items()}
    )
    day = fold(sales.FOLDS, events).get("orders", ORDER)
    assert day is not None
    assert {sku: (q, p) for sku, (_, q, p) in day["lines"].items()} == lines
