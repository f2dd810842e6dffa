"""Apply a batch of events to one projection: load, fold (healing gaps), write, derive.

The folding itself is pure (services/read/projections); this module does the I/O around it.
"""

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType

from ..adapters.documents import DocumentStore
from ..projections import customers, order_details, sales
from ..projections.base import Doc, Docs, Event, Gap, StreamFold, fold_events
from ..projections.rollup import Rollup, Rollups, Tally

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
    # Orders placed before a change of their customer (or before it registered) take it now.
    changed = {c: docs.get("customers", c) for c in _ids(events, "customer")}
    current = {c: doc for c, doc in changed.items() if doc is not None}
    found = {o["_id"]: o for o in await store.find("main", "customer_id", current)}
    behind = {}
    for order_id, order in found.items():
        updated = dict(order)
        if order_details.denormalize(updated, current[order["customer_id"]]):
            behind[order_id] = updated
    await store.save("main", behind, found)
    return outcome


async def apply_customers(store: DocumentStore, events: Sequence[Event], heal: Heal) -> Outcome:
    docs, outcome = await fold_with_healing(store, customers.FOLDS, events, heal)
    await store.save("orders", docs.changed.get("orders", {}), docs.loaded["orders"])
    orders = _touched(docs, "orders", _ids(events, "order"), "customer_id")
    affected = _ids(events, "customer") | {o["customer_id"] for o in orders}
    profiles = docs.loaded["main"]
    profiles.update(await store.load("main", affected - set(profiles)))
    memo = _rollups(store, "customers")
    groups = await _roll_up(
        store, memo, "customer_id", profiles, affected, orders, customers.contribution
    )
    for customer_id, (rollup, moved) in groups.items():
        doc = docs.get("main", customer_id) or customers.new_customer(customer_id)
        count, value = customers.totals_of(rollup)
        if (
            moved
            or (doc.get("order_count"), doc.get("lifetime_value")) != (count, value)
            or (customer_id in docs.changed.get("main", {}))
        ):
            docs.put("main", customer_id, {**doc, "order_count": count, "lifetime_value": value})
    await store.save("main", docs.changed.get("main", {}), profiles)
    _keep(memo, groups, docs.changed.get("main", {}), profiles)
    return outcome


async def apply_sales(store: DocumentStore, events: Sequence[Event], heal: Heal) -> Outcome:
    docs, outcome = await fold_with_healing(store, sales.FOLDS, events, heal)
    await store.save("orders", docs.changed.get("orders", {}), docs.loaded["orders"])
    orders = _touched(docs, "orders", _ids(events, "order"), "day")
    days = {o["day"] for o in orders}
    existing = await store.load("main", days)
    memo = _rollups(store, "days")
    groups = await _roll_up(store, memo, "day", existing, days, orders, sales.contribution)
    changed = {}
    for day, (rollup, moved) in groups.items():
        doc = sales.day_of(day, rollup)
        before = existing.get(day)
        if moved or before is None or {k: v for k, v in before.items() if k != "_rev"} != doc:
            changed[day] = doc
    await store.save("main", changed, existing)
    _keep(memo, groups, changed, existing)
    return outcome


def _touched(docs: Docs, role: str, ids: set[str], group_field: str) -> list[Doc]:
    """The documents of `ids` the batch loaded or changed that belong to a group."""
    found = (docs.get(role, doc_id) for doc_id in ids)
    return [doc for doc in found if doc is not None and group_field in doc]


def _rollups(store: DocumentStore, name: str) -> Rollups:
    memo = store.memo.get(name)
    if not isinstance(memo, Rollups):
        memo = store.memo[name] = Rollups()
    return memo


async def _roll_up(
    store: DocumentStore,
    memo: Rollups,
    field: str,
    groups: Mapping[str, Doc],
    keys: set[str],
    members: list[Doc],
    contribution: Callable[[Doc], Tally],
) -> dict[str, tuple[Rollup, bool]]:
    """The rollup of each group in `keys` with the batch's members counted, and whether the
    group's document must be written even if its fields come out the same.

    The memo's rollup is used while the group document has the revision it was kept for; else
    the group is summed again from all its members. A rollup summed again, or whose counts
    moved, is always written (a product's name may hide a change in its counts): so one revision
    never stands for two different rollups, and other writers' memos of the group lapse.
    """
    taken = {key: memo.take(key, _rev(groups.get(key))) for key in keys}
    stale = {key for key, rollup in taken.items() if rollup is None}
    rolled = {key: (rollup or Rollup(), key in stale) for key, rollup in taken.items()}
    for member in await store.find("orders", field, stale):
        rolled[member[field]][0].set(member["_id"], contribution(member))
    for member in members:
        rollup, moved = rolled[member[field]]
        moved = rollup.set(member["_id"], contribution(member)) or moved
        rolled[member[field]] = (rollup, moved)
    return rolled


def _keep(
    memo: Rollups,
    groups: Mapping[str, tuple[Rollup, bool]],
    changed: Mapping[str, Doc],
    loaded: Mapping[str, Doc],
) -> None:
    """Once the group documents are written, keep their rollups with their new revisions."""
    for key, (rollup, _) in groups.items():
        rev = _rev(loaded.get(key))
        if key in changed:
            memo.keep(key, (rev or 0) + 1, rollup)  # as DocumentStore.save numbers them
        elif rev is not None:
            memo.keep(key, rev, rollup)


def _rev(doc: Doc | None) -> int | None:
    return None if doc is None else int(doc.get("_rev", 0))


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
