"""Apply a batch of events to one projection: load, fold (healing gaps), write, derive.

The folding itself is pure (services/read/projections); this module does the I/O around it.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import ModuleType

from pymongo import UpdateMany

from ..adapters.documents import DocumentStore
from ..projections import customers, order_details, sales
from ..projections.base import Docs, Event, Gap, StreamFold, fold_events

log = logging.getLogger(__name__)
Heal = Callable[[str, int], Awaitable[list[Event]]]


@dataclass
class Outcome:
    applied: int = 0
    skipped: int = 0
    gaps_healed: int = 0


async def fold_with_healing(
    store: DocumentStore, folds: dict[str, StreamFold], events: Sequence[Event], heal: Heal
) -> tuple[Docs, Outcome]:
    """Load the documents the events touch and fold the events into them."""
    ids: dict[str, set[str]] = {spec.role: set() for spec in folds.values()}
    for event in events:
        if event.stream_type in folds:
            ids[folds[event.stream_type].role].add(event.stream_id)
    docs = Docs(loaded={role: await store.load(role, wanted) for role, wanted in ids.items()})
    healed: dict[str, list[Event]] = {}
    outcome = Outcome()
    while True:
        attempt = docs.fresh()
        try:
            outcome.applied, outcome.skipped = fold_events(attempt, events, folds, healed)
            return attempt, outcome
        except Gap as gap:
            if gap.stream_id in healed:
                raise  # the write service does not have the missing versions either
            log.warning("version gap, healing from the write service: %s", gap)
            healed[gap.stream_id] = await heal(gap.stream_id, gap.have)
            outcome.gaps_healed += 1


def _ids(events: Sequence[Event], stream_type: str) -> set[str]:
    return {e.stream_id for e in events if e.stream_type == stream_type}


async def apply_order_details(store: DocumentStore, events: Sequence[Event], heal: Heal) -> Outcome:
    docs, outcome = await fold_with_healing(store, order_details.FOLDS, events, heal)
    orders = docs.changed.get("main", {})
    known = docs.loaded["customers"]
    wanted = {o["customer_id"] for o in orders.values()} - set(known)
    known.update(await store.load("customers", wanted))
    for order in orders.values():
        order_details.denormalize(order, docs.get("customers", order["customer_id"]))
    await store.save("customers", docs.changed.get("customers", {}), known)
    await store.save("main", orders, docs.loaded["main"])
    updates = []
    for customer_id in _ids(events, "customer"):
        customer = docs.get("customers", customer_id)
        if customer is None:
            continue
        fields = {"customer_name": customer["name"], "customer_email": customer["email"]}
        updates.append(
            UpdateMany(
                {"customer_id": customer_id, "customer_version": {"$lt": customer["version"]}},
                {"$set": {**fields, "customer_version": customer["version"]}, "$inc": {"_rev": 1}},
            )
        )
    await store.update_where("main", updates)
    return outcome


async def apply_customers(store: DocumentStore, events: Sequence[Event], heal: Heal) -> Outcome:
    docs, outcome = await fold_with_healing(store, customers.FOLDS, events, heal)
    await store.save("orders", docs.changed.get("orders", {}), docs.loaded["orders"])
    affected = set(_ids(events, "customer"))
    for order_id in _ids(events, "order"):
        order = docs.get("orders", order_id)
        if order is not None and "customer_id" in order:
            affected.add(order["customer_id"])
    profiles = docs.loaded["main"]
    profiles.update(await store.load("main", affected - set(profiles)))
    by_customer: dict[str, list[dict[str, object]]] = {c: [] for c in affected}
    for order in await store.find("orders", "customer_id", affected):
        by_customer[order["customer_id"]].append(order)
    for customer_id, orders in by_customer.items():
        doc = docs.get("main", customer_id) or customers.new_customer(customer_id)
        count, value = customers.totals(orders)
        if (doc.get("order_count"), doc.get("lifetime_value")) != (count, value) or (
            customer_id in docs.changed.get("main", {})
        ):
            docs.put("main", customer_id, {**doc, "order_count": count, "lifetime_value": value})
    await store.save("main", docs.changed.get("main", {}), profiles)
    return outcome


async def apply_sales(store: DocumentStore, events: Sequence[Event], heal: Heal) -> Outcome:
    docs, outcome = await fold_with_healing(store, sales.FOLDS, events, heal)
    await store.save("orders", docs.changed.get("orders", {}), docs.loaded["orders"])
    days = set()
    for order_id in _ids(events, "order"):
        order = docs.get("orders", order_id)
        if order is not None and "day" in order:
            days.add(order["day"])
    by_day: dict[str, list[dict[str, object]]] = {d: [] for d in days}
    for order in await store.find("orders", "day", days):
        by_day[order["day"]].append(order)
    existing = await store.load("main", days)
    changed = {}
    for day, orders in by_day.items():
        doc = sales.day_document(day, orders)
        before = existing.get(day)
        if before is None or {k: v for k, v in before.items() if k != "_rev"} != doc:
            changed[day] = doc
    await store.save("main", changed, existing)
    return outcome


Applier = Callable[[DocumentStore, Sequence[Event], Heal], Awaitable[Outcome]]


@dataclass(frozen=True)
class ProjectionSpec:
    """Everything the runtime needs to know about one projection."""

    name: str
    module: ModuleType
    apply: Applier


PROJECTIONS: dict[str, ProjectionSpec] = {
    spec.name: spec
    for spec in (
        ProjectionSpec(order_details.NAME, order_details, apply_order_details),
        ProjectionSpec(customers.NAME, customers, apply_customers),
        ProjectionSpec(sales.NAME, sales, apply_sales),
    )
}
