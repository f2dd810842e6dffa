"""sales: per UTC day of placement, orders placed and cancelled, revenue, average order value,
and units and revenue per SKU, over non-cancelled orders. A rejected order (its stock could not
be reserved) counts as a cancelled one: among the cancelled, in no revenue nor units.

Each order is kept as it stands (role `orders`), with its day. A day's figures are running
totals of what each of its orders contributes (a rollup, kept in memory between batches): a batch
replaces the contributions of the orders it loaded or changed, then writes the days it touched. A
rollup is trusted only while the day document still has the revision it was last read or written
with; otherwise (another writer, a restart, a failed write) the day is summed again from all its
orders. Replacing a contribution with itself changes nothing, so duplicates and any arrival order
give the same days, and a batch applied again after a crash that saved its orders but not its
days puts the days right.

A product's name is the one most of the day's non-cancelled orders with that SKU give it (ties:
the greatest name), whatever order the orders came in.
"""

import functools
from collections.abc import Sequence
from decimal import Decimal

from shared.contracts.events import ORDER_CANCELLED, ORDER_PLACED, ORDER_REJECTED
from shared.contracts.money import format_money
from shared.contracts.orders import line_total

from . import groups
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
from .rollup import Amount, Key, Rollup, Rollups, Tally, add

NAME = "sales"
INDEXES = {"main": [], "orders": [[("day", 1)]]}
PLACED, CANCELLED, REVENUE, UNITS = ("placed",), ("cancelled",), ("revenue",), ("units",)
SKU = "sku"  # keys (SKU, sku, "units" | "revenue") and (SKU, sku, "name", name)
LINES = Lines(("name", "quantity", "unit_price"))


def fold_order(doc: Doc | None, event: Event) -> Doc:
    kind = event.event_type
    if doc is None:
        doc = {"_id": event.stream_id, "version": 0, "lines": {}, "cancelled": False}
    if kind in LINE_EVENTS:
        doc["lines"] = LINES.fold(doc["lines"], event)
    if kind == ORDER_PLACED:
        doc["day"] = event.recorded_at.date().isoformat()
    elif kind in (ORDER_CANCELLED, ORDER_REJECTED):
        doc["cancelled"] = True
    return doc


def contribution(order: Doc) -> Tally:
    """What one order adds to its day: one placed (and cancelled), else its lines."""
    tally: Tally = {PLACED: 1}
    if order["cancelled"]:
        tally[CANCELLED] = 1
        return tally
    for sku, (name, quantity, price) in order["lines"].items():
        line = line_total(quantity, Decimal(price))
        add(tally, REVENUE, line)
        add(tally, UNITS, quantity)
        add(tally, _key(SKU, sku, "units"), quantity)
        add(tally, _key(SKU, sku, "revenue"), line)
        add(tally, _key(SKU, sku, "name", name), 1)
    return tally


@functools.lru_cache(maxsize=4096)
def _key(*parts: str) -> Key:
    """One key object per SKU and name, shared by the tallies of all the orders kept in memory."""
    return parts


def day_of(day: str, rollup: Rollup) -> Doc:
    """The statistics of one day from the rollup of its orders."""
    placed, cancelled = int(rollup.total(PLACED)), int(rollup.total(CANCELLED))
    revenue = Decimal(rollup.total(REVENUE))
    kept = placed - cancelled
    return {
        "_id": day,
        "day": day,
        "orders_placed": placed,
        "orders_cancelled": cancelled,
        "revenue": format_money(revenue),
        "average_order_value": format_money(revenue / kept) if kept else "0.00",
        "units": int(rollup.total(UNITS)),
        "products": _products(rollup),
    }


def _products(rollup: Rollup) -> list[Doc]:
    names: dict[str, list[tuple[Amount, str]]] = {}
    for key, count in rollup.totals.items():
        if key[0] == SKU and key[2] == "name":
            names.setdefault(key[1], []).append((count, key[3]))
    return [
        {
            "sku": sku,
            "name": max(candidates)[1],  # the most frequent, then the greatest
            "units": int(rollup.total((SKU, sku, "units"))),
            "revenue": format_money(Decimal(rollup.total((SKU, sku, "revenue")))),
        }
        for sku, candidates in sorted(names.items())
    ]


FOLDS = {"order": StreamFold("orders", "order", fold_order, ORDER_PLACED)}


class Sales:
    """Orders kept with their day; each day's figures rolled up from its orders."""

    name = NAME
    indexes = INDEXES
    placeholder_roles = frozenset[str]()
    personal_types = frozenset[str]()  # it shows no personal data

    async def apply(
        self, store: Store, events: Sequence[Event], heal: Heal, memo: Rollups
    ) -> Outcome:
        docs, outcome = await fold_with_healing(store, FOLDS, events, heal)
        orders = groups.touched(docs, "orders", _ids(events, "order"), "day")
        days = {o["day"] for o in orders}
        existing = await store.load("main", days)
        rolled = await groups.roll_up(store, memo, "day", existing, days, orders, contribution)
        changed = {}
        for day, (rollup, moved) in rolled.items():
            doc = day_of(day, rollup)
            before = existing.get(day)
            if moved or before is None or {k: v for k, v in before.items() if k != "_rev"} != doc:
                changed[day] = doc
        # Orders after the roll-up has read the others, before their days (as in customers.py).
        await store.save("orders", docs.changed.get("orders", {}), docs.loaded["orders"])
        await store.save("main", changed, existing)
        groups.keep(memo, rolled, changed, existing)
        return outcome


PROJECTION = Sales()
