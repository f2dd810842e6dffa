"""stock: one document per tracked SKU, its units on hand, reserved and available.

Every event of a stock item carries the item's levels after it, so a document is the levels of
the latest version applied: the version guard (base.py) makes a duplicate or an older event a
no-op, and a gap is healed as for any stream, so arrival order changes nothing.
"""

from collections.abc import Sequence

from shared.contracts.events import STOCK, STOCK_RECEIVED

from .base import Doc, Event, Heal, Outcome, Store, StreamFold, fold_with_healing
from .rollup import Rollups

NAME = "stock"
# A SKU's document is found by its SKU; low stock walks the SKUs in order and picks those
# below a level from the index's own keys.
INDEXES = {"main": [[("sku", 1), ("available", 1)]]}


def fold_item(doc: Doc | None, event: Event) -> Doc:
    """The item's levels as the event gives them (the stream's first receipt creates it)."""
    doc = doc or {"_id": event.stream_id, "version": 0}
    data = event.data
    on_hand, reserved = int(data["on_hand"]), int(data["reserved"])
    doc.update(sku=data["sku"], on_hand=on_hand, reserved=reserved, available=on_hand - reserved)
    return doc


FOLDS = {STOCK: StreamFold("main", STOCK, fold_item, STOCK_RECEIVED)}


class Stock:
    """Stock items folded from their own events; nothing else changes them."""

    name = NAME
    indexes = INDEXES
    placeholder_roles = frozenset[str]()
    personal_types = frozenset[str]()  # it shows no personal data

    async def apply(
        self, store: Store, events: Sequence[Event], heal: Heal, memo: Rollups
    ) -> Outcome:
        docs, outcome = await fold_with_healing(store, FOLDS, events, heal)
        await store.save("main", docs.changed.get("main", {}), docs.loaded["main"])
        return outcome


PROJECTION = Stock()
