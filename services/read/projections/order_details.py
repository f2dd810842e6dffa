"""order_details: one document per order, with its customer's name and email denormalized.

The projection keeps its own copy of each customer's name and email (role `customers`), so the
result is the same whichever of the two topics arrives first.

An order that ever had a line whose stock is tracked shows its stock state (`stock`); one that
never had any has no `stock` at all, and is the document it was before stock was tracked.

Names, emails and the street, city and postal code of addresses reach this projection opened
(application/personal.py), None once their customer's key is gone. CustomerErased marks the
customer's copy `erased`, and every order of that customer takes it as it takes any change of
its customer: name, email and those parts of the address become null, the order is `erased`;
its items, totals and statuses stay. An order folded later (placed before the erasure, arriving
after it) takes the erased copy too.
"""

from collections.abc import Sequence
from decimal import Decimal

from shared.contracts.events import (
    CUSTOMER_EMAIL_CHANGED,
    CUSTOMER_ERASED,
    CUSTOMER_REGISTERED,
    CUSTOMER_RENAMED,
    ORDER_CANCELLED,
    ORDER_CONFIRMED,
    ORDER_ITEM_ADDED,
    ORDER_ITEM_REMOVED,
    ORDER_PLACED,
    ORDER_REJECTED,
    ORDER_SHIPPED,
    ORDER_STOCK_RESERVED,
)
from shared.contracts.money import format_money
from shared.contracts.orders import OrderStatus, StockState, line_total, order_total

from .base import (
    Doc,
    Event,
    Heal,
    Outcome,
    Store,
    StreamFold,
    fold_with_healing,
    stream_ids as _ids,
)
from .lines import LINE_EVENTS, Lines
from .rollup import Rollups

NAME = "order_details"
INDEXES = {
    "main": [
        [("customer_id", 1), ("placed_at", -1), ("_id", -1)],
        [("customer_id", 1), ("status", 1), ("placed_at", -1), ("_id", -1)],
    ],
    "customers": [],
}


LINES = Lines()  # the items, whole, as the order's events give them
# Documents hold plain strings (as MongoDB gives them back), not the enum's members.
PLACED, CONFIRMED, SHIPPED, CANCELLED, REJECTED = (
    s.value
    for s in (
        OrderStatus.PLACED,
        OrderStatus.CONFIRMED,
        OrderStatus.SHIPPED,
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
    )
)
NOT_TRACKED, PENDING, RESERVED = (
    s.value for s in (StockState.NOT_TRACKED, StockState.PENDING, StockState.RESERVED)
)
# What an erasure leaves of an address: the country alone.
ERASED_ADDRESS = ("line1", "city", "postal_code")
TRACKED = "_tracked"  # the SKUs of the order's tracked lines (not shown)
STOCK_EVENTS = frozenset({ORDER_PLACED, ORDER_ITEM_ADDED, ORDER_ITEM_REMOVED, ORDER_STOCK_RESERVED})


def _items(doc: Doc, event: Event) -> None:
    """The items after an event that changes the lines (in the order they were first added)."""
    lines = LINES.fold({item["sku"]: item for item in doc["items"]}, event)
    doc["items"] = list(lines.values())


def totals(doc: Doc) -> None:
    """Line totals, order total and item count, from the current lines."""
    items = doc["items"]
    lines = [(item["quantity"], Decimal(item["unit_price"])) for item in items]
    for item, (quantity, price) in zip(items, lines, strict=True):
        item["line_total"] = format_money(line_total(quantity, price))
    doc["total"] = format_money(order_total(lines))
    doc["item_count"] = sum(quantity for quantity, _ in lines)


def _status(doc: Doc, status: str, event: Event) -> None:
    """A change of status, and who made it when known (`by` is left out otherwise, so events
    recorded before actors were leave the documents they always made)."""
    doc["status"] = status
    change = {"status": status, "at": event.recorded_at, "version": event.version}
    if event.actor:
        change["by"] = event.actor
    doc["status_history"].append(change)


def _stock(doc: Doc, event: Event) -> None:
    """The stock state after an event: pending while a tracked line waits for its stock,
    reserved once every tracked line is, not_tracked once no line is tracked any more."""
    kind, data = event.event_type, event.data
    tracked = set(doc.get(TRACKED, ()))
    state = doc.get("stock", {}).get("state")
    if kind == ORDER_PLACED:  # `tracked` absent: placed before stock was tracked
        tracked = set(data.get("tracked") or ())
        state = PENDING if tracked else None
    elif kind == ORDER_ITEM_ADDED and data.get("tracked"):
        tracked.add(data["sku"])
        state = PENDING
    elif kind == ORDER_ITEM_REMOVED and data["sku"] in tracked:
        tracked.discard(data["sku"])
        state = state if tracked else NOT_TRACKED
    elif kind == ORDER_STOCK_RESERVED:
        state = RESERVED
    if state is not None:
        doc.update({"stock": {"state": state}, TRACKED: sorted(tracked)})


def fold_order(doc: Doc | None, event: Event) -> Doc:
    data = event.data
    if doc is None:
        doc = {"_id": event.stream_id, "order_id": event.stream_id, "version": 0}
    kind = event.event_type
    if kind == ORDER_PLACED:
        doc.update(
            customer_id=data["customer_id"],
            customer_name=None,
            customer_email=None,
            customer_version=0,
            currency=data["currency"],
            items=[],  # below, as the lines
            shipping_address=data["shipping_address"],
            carrier=None,
            tracking_number=None,
            cancel_reason=None,
            placed_at=event.recorded_at,
            status_history=[],
        )
        _status(doc, PLACED, event)
    elif kind == ORDER_CONFIRMED:
        _status(doc, CONFIRMED, event)
    elif kind == ORDER_SHIPPED:
        doc.update(carrier=data["carrier"], tracking_number=data["tracking_number"])
        _status(doc, SHIPPED, event)
    elif kind == ORDER_CANCELLED:
        doc["cancel_reason"] = data["reason"]
        _status(doc, CANCELLED, event)
    elif kind == ORDER_REJECTED:
        doc["rejection"] = {"reason": data["reason"], "skus": data["skus"]}
        _status(doc, REJECTED, event)
    if kind in LINE_EVENTS:
        _items(doc, event)
    if kind in STOCK_EVENTS:
        _stock(doc, event)
    doc["updated_at"] = event.recorded_at
    return doc


def fold_customer(doc: Doc | None, event: Event) -> Doc:
    doc = doc or {"_id": event.stream_id, "name": None, "email": None, "version": 0}
    data = event.data
    if event.event_type == CUSTOMER_REGISTERED:
        doc.update(name=data["name"], email=data["email"])
    elif event.event_type == CUSTOMER_RENAMED:
        doc["name"] = data["name"]
    elif event.event_type == CUSTOMER_EMAIL_CHANGED:
        doc["email"] = data["new_email"]
    elif event.event_type == CUSTOMER_ERASED:
        doc.update(name=None, email=None, erased=True)
    return doc


def denormalize(order: Doc, customer: Doc | None) -> bool:
    """Copy the customer's name and email into the order if newer (blanking the order's
    personal data if the customer was erased); True when it changed."""
    if customer is None or customer["version"] <= order.get("customer_version", 0):
        return False
    order.update(
        customer_name=customer["name"],
        customer_email=customer["email"],
        customer_version=customer["version"],
    )
    if customer.get("erased"):
        erase(order)
    return True


def erase(order: Doc) -> None:
    """An order of an erased customer: no name, no email, no street, city or postal code."""
    address = {**order["shipping_address"], **dict.fromkeys(ERASED_ADDRESS)}
    order.update(customer_name=None, customer_email=None, shipping_address=address, erased=True)


FOLDS = {
    "order": StreamFold("main", "order", fold_order, ORDER_PLACED, finish=totals),
    "customer": StreamFold("customers", "customer", fold_customer, CUSTOMER_REGISTERED),
}


class OrderDetails:
    """Orders folded with their customers' copies; a customer's change reaches their orders."""

    name = NAME
    indexes = INDEXES
    placeholder_roles = frozenset[str]()
    personal_types = frozenset(
        {CUSTOMER_REGISTERED, CUSTOMER_RENAMED, CUSTOMER_EMAIL_CHANGED, ORDER_PLACED}
    )

    async def apply(
        self, store: Store, events: Sequence[Event], heal: Heal, memo: Rollups
    ) -> Outcome:
        docs, outcome = await fold_with_healing(store, FOLDS, events, heal)
        orders = docs.changed.get("main", {})
        known = docs.loaded["customers"]
        wanted = {o["customer_id"] for o in orders.values()} - set(known)
        known.update(await store.load("customers", wanted))
        for order in orders.values():
            denormalize(order, docs.get("customers", order["customer_id"]))
        # Orders placed before a change of their customer (or before it registered) take it
        # now: those in MongoDB, asked for before the batch's own orders (which just took it)
        # are written, so that they do not come back.
        changed = {c: docs.get("customers", c) for c in _ids(events, "customer")}
        current = {c: doc for c, doc in changed.items() if doc is not None}
        found = {
            o["_id"]: o
            for o in await store.find("main", "customer_id", current)
            if o["_id"] not in orders
        }
        behind = {}
        for order_id, order in found.items():
            updated = dict(order)
            if denormalize(updated, current[order["customer_id"]]):
                behind[order_id] = updated
        await store.save("customers", docs.changed.get("customers", {}), known)
        await store.save("main", {**orders, **behind}, {**docs.loaded["main"], **found})
        return outcome


PROJECTION = OrderDetails()
