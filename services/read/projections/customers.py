"""customers: profile, email history, order count and lifetime value of each customer (the
total of their orders neither cancelled nor rejected).

Order totals and statuses are kept per order (role `orders`). A customer's count and value are
running totals of what each of their orders contributes (a rollup, kept in memory between
batches): a batch replaces the contributions of the orders it loaded or changed, then writes the
customers it touched. A rollup is trusted only while the customer document still has the
revision it was last read or written with; otherwise (another writer, a restart, a failed write)
the customer is summed again from all their orders. Replacing a contribution with itself changes
nothing, so order and customer events may arrive in any relative order, and any number of times,
and a batch applied again after a crash that saved its orders but not its customers puts them
right. Orders of a customer not registered yet create the customer's document (version 0).

Names and emails reach this projection opened (application/personal.py), None once their
customer's key is gone. CustomerErased blanks the profile (name, email, email history) and marks
it `erased`; the count and value of the customer's orders stay.
"""

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from shared.contracts.cloudevents import parse_time
from shared.contracts.events import (
    CUSTOMER_EMAIL_CHANGED,
    CUSTOMER_ERASED,
    CUSTOMER_REGISTERED,
    CUSTOMER_RENAMED,
    ORDER_CANCELLED,
    ORDER_PLACED,
    ORDER_REJECTED,
)
from shared.contracts.money import format_money
from shared.contracts.orders import OrderStatus

from . import groups
from .base import (
    Doc,
    Event,
    Heal,
    Outcome,
    Store,
    StreamFold,
    dec,
    fold_with_healing,
    stream_ids as _ids,
)
from .lines import LINE_EVENTS, Lines
from .rollup import Rollup, Rollups, Tally

NAME = "customers"
INDEXES = {"main": [[("email_lower", 1)]], "orders": [[("customer_id", 1)]]}
COUNT, VALUE = ("order_count",), ("lifetime_value",)
LINES = Lines(("quantity", "unit_price"))  # what a customer's value needs of an order's lines
# Documents hold plain strings (as MongoDB gives them back), not the enum's members.
PLACED, CANCELLED = OrderStatus.PLACED.value, OrderStatus.CANCELLED.value
REJECTED = OrderStatus.REJECTED.value


def new_customer(customer_id: str) -> Doc:
    """A customer known only through its orders so far (version 0: not registered yet)."""
    return {
        "_id": customer_id,
        "customer_id": customer_id,
        "name": None,
        "email": None,
        "email_lower": None,
        "email_history": [],
        "registered_at": None,
        "updated_at": None,
        "version": 0,
        "order_count": 0,
        "lifetime_value": "0.00",
    }


def fold_profile(doc: Doc | None, event: Event) -> Doc:
    doc = doc or new_customer(event.stream_id)
    data = event.data
    if event.event_type == CUSTOMER_REGISTERED:
        doc.update(name=data["name"], registered_at=event.recorded_at)
        _email(doc, data["email"], event)
    elif event.event_type == CUSTOMER_RENAMED:
        doc["name"] = data["name"]
    elif event.event_type == CUSTOMER_EMAIL_CHANGED:
        _email(doc, data["new_email"], event)
    elif event.event_type == CUSTOMER_ERASED:
        erase(doc, data["erased_at"])
    doc["updated_at"] = event.recorded_at
    return doc


def _email(doc: Doc, email: str | None, event: Event) -> None:
    """The customer's email now (None: it cannot be read any more, and leaves no history)."""
    doc.update(email=email, email_lower=None if email is None else email.lower())
    if email is not None:
        doc["email_history"].append(
            {"email": email, "changed_at": event.recorded_at, "version": event.version}
        )


def erase(doc: Doc, erased_at: Any) -> None:
    """The profile of an erased customer: nothing personal left, and when it was erased."""
    doc.update(name=None, email=None, email_lower=None, email_history=[], erased=True)
    doc["erased_at"] = parse_time(erased_at) if isinstance(erased_at, str) else erased_at


def fold_order(doc: Doc | None, event: Event) -> Doc:
    data, kind = event.data, event.event_type
    if doc is None:
        doc = {"_id": event.stream_id, "version": 0, "lines": {}, "status": PLACED}
    if kind in LINE_EVENTS:
        doc["lines"] = LINES.fold(doc["lines"], event)
    if kind == ORDER_PLACED:
        doc.update(customer_id=data["customer_id"], currency=data["currency"])
    elif kind == ORDER_CANCELLED:
        doc["status"] = CANCELLED
    elif kind == ORDER_REJECTED:
        doc["status"] = REJECTED
    return doc


def order_total(doc: Doc) -> None:
    doc["total"] = format_money(LINES.total(doc["lines"].values()))


def contribution(order: Doc) -> Tally:
    """What one order adds to its customer: one order, and its total unless cancelled or
    rejected."""
    gone = order.get("status") in (CANCELLED, REJECTED)
    value = Decimal("0") if gone else dec(order["total"])
    return {COUNT: 1, VALUE: value} if value else {COUNT: 1}


def totals_of(rollup: Rollup) -> tuple[int, str]:
    """(order_count, lifetime_value) from the rollup of a customer's orders."""
    return int(rollup.total(COUNT)), format_money(Decimal(rollup.total(VALUE)))


def totals(orders: Iterable[Doc]) -> tuple[int, str]:
    """(order_count, lifetime_value) summed from all of a customer's orders."""
    rollup = Rollup()
    for order in orders:
        rollup.set(order["_id"], contribution(order))
    return totals_of(rollup)


FOLDS = {
    "customer": StreamFold("main", "customer", fold_profile, CUSTOMER_REGISTERED),
    "order": StreamFold("orders", "order", fold_order, ORDER_PLACED, finish=order_total),
}


class Customers:
    """Profiles folded from customer events; counts and values rolled up from their orders."""

    name = NAME
    indexes = INDEXES
    # A customer's document is created by its orders when they come before its registration.
    placeholder_roles = frozenset({"main"})
    personal_types = frozenset({CUSTOMER_REGISTERED, CUSTOMER_RENAMED, CUSTOMER_EMAIL_CHANGED})

    async def apply(
        self, store: Store, events: Sequence[Event], heal: Heal, memo: Rollups
    ) -> Outcome:
        docs, outcome = await fold_with_healing(store, FOLDS, events, heal)
        orders = groups.touched(docs, "orders", _ids(events, "order"), "customer_id")
        affected = _ids(events, "customer") | {o["customer_id"] for o in orders}
        profiles = docs.loaded["main"]
        profiles.update(await store.load("main", affected - set(profiles)))
        rolled = await groups.roll_up(
            store, memo, "customer_id", profiles, affected, orders, contribution
        )
        for customer_id, (rollup, moved) in rolled.items():
            doc = docs.get("main", customer_id) or new_customer(customer_id)
            count, value = totals_of(rollup)
            if (
                moved
                or (doc.get("order_count"), doc.get("lifetime_value")) != (count, value)
                or (customer_id in docs.changed.get("main", {}))
            ):
                docs.put(
                    "main", customer_id, {**doc, "order_count": count, "lifetime_value": value}
                )
        # The orders are written after the roll-up has read the others (fewer to read back),
        # and before their customers: a crash between the two leaves customers to be summed
        # again, never counts of orders that were not written.
        await store.save("orders", docs.changed.get("orders", {}), docs.loaded["orders"])
        await store.save("main", docs.changed.get("main", {}), profiles)
        groups.keep(memo, rolled, docs.changed.get("main", {}), profiles)
        return outcome


PROJECTION = Customers()
