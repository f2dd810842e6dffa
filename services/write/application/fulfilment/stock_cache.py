"""Stock items as of their last append by the process, so that a busy SKU's reservation reads
only the events since (receipts and adjustments over HTTP), not its whole stream each time."""

from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from shared.contracts.events import STOCK, stock_stream_id

from ...domain.stock import StockItem
from .ports import FulfilmentWork


class StockCache:
    """Items kept only while what they hold is stored: whoever changed one without storing it
    (a failed attempt, a batch rolled back) forgets it."""

    def __init__(self, size: int = 10_000) -> None:
        self._items: OrderedDict[UUID, StockItem] = OrderedDict()
        self._size = size

    async def item(self, work: FulfilmentWork, sku: str) -> StockItem:
        """The SKU's item as the transaction sees it (a new one, not existing, if none)."""
        stream_id = stock_stream_id(sku)
        item = self._items.pop(stream_id, None)
        if item is None:
            history = await work.load(stream_id)
            if history.stream_type not in (None, STOCK):
                raise TypeError(f"stream {stream_id} of sku {sku!r} is not a stock item")
            item = StockItem.for_sku(sku)
            after = history.events
        else:
            after = (await work.load(stream_id, after_version=item.version)).events
        for event in after:
            item.apply(event)
        return item

    def keep(self, items: Iterable[StockItem]) -> None:
        for item in items:
            item.pending = []
            self._items[item.id] = item
            self._items.move_to_end(item.id)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
