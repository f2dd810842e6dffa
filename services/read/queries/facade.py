"""What the query routes ask of the read service, in one object the composition root builds: the
queries over each projection's active documents, read-your-writes waits, whether a projection is
paused, whether the event store has an order.

MongoDB out of reach is `Unavailable` (503); the routes never see the driver.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Protocol

from ..adapters.mongo import unavailable_when_unreachable
from ..application.ports import Unavailable
from . import customers, erasures, orders, stats, stock
from .orders import Doc, Docs, OrderStatus, Wait
from .stats import DateRange, Measure

log = logging.getLogger(__name__)


class Streams(Protocol):
    """The event store's streams (raises Unavailable when it cannot say)."""

    async def stream_exists(self, stream_id: str, *, customer_id: str | None = None) -> bool: ...


class ReadQueries:
    """The queries of the read API over the active version of each projection.

    `documents` gives a projection's active collection when asked (a rebuild may switch it at
    any moment), `markers` the collection of its active version's erasure markers; `wait`
    returns when this process writes an order (or after its timeout).
    """

    def __init__(
        self,
        *,
        documents: Callable[[str], Docs],
        markers: Callable[[str], Docs],
        wait: Wait,
        pause_reason: Callable[[str], Awaitable[str | None]],
        streams: Streams,
        max_wait_ms: int,
        cache_max_age: int,
    ) -> None:
        self._documents, self._wait, self._pause_reason = documents, wait, pause_reason
        self._markers = markers
        self._streams = streams
        self.max_wait_ms = max_wait_ms
        self.cache_max_age = cache_max_age  # seconds a list or statistics answer may be reused

    async def order(self, order_id: str, *, owner: str | None) -> Doc | None:
        with unavailable_when_unreachable():
            return await orders.find_order(self._docs(orders.PROJECTION), order_id, owner=owner)

    async def order_at_version(
        self, order_id: str, *, min_version: int, timeout: float, owner: str | None
    ) -> Doc:
        """The order once at `min_version`, waiting up to `timeout` seconds (VersionNotReached
        after)."""
        with unavailable_when_unreachable():
            return await orders.order_at_version(
                self._docs(orders.PROJECTION),
                order_id,
                min_version=min_version,
                timeout=timeout,
                wait=self._wait,
                owner=owner,
            )

    async def customer_orders(
        self,
        customer_id: str,
        *,
        status: OrderStatus | None,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> tuple[list[Doc], str | None]:
        docs = self._docs(orders.PROJECTION)
        with unavailable_when_unreachable():
            return await orders.customer_orders(
                docs, customer_id, status=status, limit=limit, after=after
            )

    async def customer(self, customer_id: str, *, owner: str | None) -> Doc | None:
        docs = self._docs(customers.PROJECTION)
        with unavailable_when_unreachable():
            return await customers.find_customer(docs, customer_id, owner=owner)

    async def customers_by_email(self, email: str, *, owner: str | None) -> list[Doc]:
        docs = self._docs(customers.PROJECTION)
        with unavailable_when_unreachable():
            return await customers.customers_by_email(docs, email, owner=owner)

    async def daily(self, days: DateRange) -> list[Doc]:
        with unavailable_when_unreachable():
            return await stats.daily(self._docs(stats.PROJECTION), days)

    async def top_products(self, days: DateRange, *, by: Measure, limit: int) -> list[Doc]:
        docs = self._docs(stats.PROJECTION)
        with unavailable_when_unreachable():
            return await stats.top_products(docs, days, by=by, limit=limit)

    async def stock_item(self, sku: str) -> Doc | None:
        """A tracked SKU's levels; None when its stock is not tracked."""
        with unavailable_when_unreachable():
            return await stock.find_item(self._docs(stock.PROJECTION), sku)

    async def stock_items(
        self, *, available_below: int | None, limit: int, after: str | None
    ) -> tuple[list[Doc], str | None]:
        docs = self._docs(stock.PROJECTION)
        with unavailable_when_unreachable():
            return await stock.items(
                docs, available_below=available_below, limit=limit, after=after
            )

    async def erasure(self, customer_id: str) -> dict[str, Doc]:
        """For each projection, whether its active version applied the customer's erasure."""
        with unavailable_when_unreachable():
            return {
                name: {"caught_up": await erasures.caught_up(self._markers(name), customer_id)}
                for name in erasures.NAMES
            }

    async def pause_reason(self, projection: str) -> str | None:
        """Why the projection is paused (an operator, a rebuild's switch), or None."""
        return await self._pause_reason(projection)

    async def order_exists(self, order_id: str, customer_id: str | None = None) -> bool | None:
        """Whether the event store has the order (placed by `customer_id`, when given); None
        when the write service cannot say."""
        try:
            return await self._streams.stream_exists(order_id, customer_id=customer_id)
        except Unavailable as exc:
            log.warning("cannot tell whether order %s exists: %s", order_id, exc)
            return None

    def _docs(self, projection: str) -> Docs:
        return self._documents(projection)
