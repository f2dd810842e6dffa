"""The query routes: orders, customers and sales statistics, read from the projections.

Every query needs ordering:query; a customer's token reads the customer's own profile and orders
(anything of another customer answers 404, as if it did not exist) and no statistics (403).
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shared.contracts.envelope import MAX_VERSION
from shared.contracts.events import EMAIL_PATTERN
from shared.plumbing.access import secured
from shared.plumbing.auth import QUERY
from shared.plumbing.http import problem

from ..queries import orders
from ..queries.orders import OrderStatus
from ..queries.stats import Measure
from . import caching, schemas
from .deps import After, DaysRecent, DaysRequired, IfNoneMatch, Read, Reader, Staff, owner

router = APIRouter()

DEFAULT_WAIT_MS = 2000
# Any wait asked for is capped at the service's MAX_WAIT_MS; past int64 it is no number a
# client means.
MAX_WAIT_MS_ASKED = 2**63 - 1
ORDER_NOT_FOUND = (
    "No such order, or another customer's (with `min_version`: none seen within the wait, and"
    " none in the event store)"
)
CUSTOMER_NOT_FOUND = "No such registered customer, or another customer (for a customer's token)"
ORDERS_NOT_FOUND = "Another customer's orders (for a customer's token)"
ORDER_UNAVAILABLE = (
    "MongoDB unavailable, or, with `min_version`, the order is not at that version yet (for"
    " instance while its projection is paused); retry later"
)


def _not_found(request: Request, what: str) -> Response:
    return problem(404, f"{what} not found", instance=request.url.path)


@router.get(
    "/orders/{order_id}",
    response_model=schemas.Order,
    **secured(
        QUERY,
        customers=True,
        responses=schemas.responses(
            304, 422, ok=schemas.REVALIDATE, s404=ORDER_NOT_FOUND, s503=ORDER_UNAVAILABLE
        ),
    ),
)
async def get_order(
    caller: Reader,
    request: Request,
    order_id: UUID,
    read: Read,
    if_none_match: IfNoneMatch = None,
    min_version: Annotated[
        int | None,
        Query(ge=1, le=MAX_VERSION, description="the version to wait for (a command's answer)"),
    ] = None,
    wait_ms: Annotated[
        int,
        Query(ge=0, le=MAX_WAIT_MS_ASKED, description="longest wait, capped by the service"),
    ] = DEFAULT_WAIT_MS,
) -> Response:
    """One order; with `min_version`, waits up to `wait_ms` (capped) until it got that far."""
    mine = owner(caller)
    if min_version is None:
        doc = await read.order(str(order_id), owner=mine)
        if doc is None:
            return _not_found(request, f"order {order_id}")
    else:
        waited = min(wait_ms, read.max_wait_ms)
        try:
            doc = await read.order_at_version(
                str(order_id), min_version=min_version, timeout=waited / 1000, owner=mine
            )
        except orders.VersionNotReached as exc:
            return await _not_reached(request, read, exc, waited, mine)
    return caching.document(doc, if_none_match)


async def _not_reached(
    request: Request, read: Read, exc: orders.VersionNotReached, waited_ms: int, mine: str | None
) -> Response:
    """503 (retry later) for an order that exists but is not at that version here yet; 404 when
    the event store has no such order, or not of this customer (asked only when none was seen
    within the wait)."""
    if exc.seen is None and await read.order_exists(exc.order_id, mine) is False:
        detail = f"no order {exc.order_id} exists (none was seen within the wait, {waited_ms} ms)"
        return problem(404, detail, instance=request.url.path)
    reason = await read.pause_reason(orders.PROJECTION)
    detail = (
        str(exc) if reason is None else f"{exc}: the {orders.PROJECTION} projection is {reason}"
    )
    return problem(503, detail, instance=request.url.path, headers={"Retry-After": "1"})


@router.get(
    "/customers/{customer_id}/orders",
    response_model=schemas.OrderPage,
    **secured(
        QUERY,
        customers=True,
        responses=schemas.responses(404, 422, ok=schemas.CACHE_CONTROL, s404=ORDERS_NOT_FOUND),
    ),
)
async def list_customer_orders(
    caller: Reader,
    request: Request,
    customer_id: UUID,
    read: Read,
    after: After,
    status: OrderStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """A customer's orders, newest first; pass `next_cursor` back as `cursor` for the next page."""
    if owner(caller) not in (None, str(customer_id)):
        return _not_found(request, f"customer {customer_id}")
    page, cursor = await read.customer_orders(
        str(customer_id), status=status, limit=limit, after=after
    )
    return caching.listing({"orders": page, "next_cursor": cursor}, read.cache_max_age)


@router.get(
    "/customers/{customer_id}",
    response_model=schemas.Customer,
    **secured(
        QUERY,
        customers=True,
        responses=schemas.responses(304, 404, 422, ok=schemas.REVALIDATE, s404=CUSTOMER_NOT_FOUND),
    ),
)
async def get_customer(
    caller: Reader,
    request: Request,
    customer_id: UUID,
    read: Read,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """One registered customer."""
    doc = await read.customer(str(customer_id), owner=owner(caller))
    if doc is None:
        return _not_found(request, f"customer {customer_id}")
    return caching.document(doc, if_none_match)


@router.get(
    "/customers",
    response_model=schemas.Customers,
    **secured(QUERY, customers=True, responses=schemas.responses(422, ok=schemas.CACHE_CONTROL)),
)
async def find_customers(
    caller: Reader,
    read: Read,
    email: Annotated[str, Query(max_length=254, pattern=EMAIL_PATTERN)],
) -> Response:
    """The registered customers with this email, compared case-insensitively (for a customer's
    token: the customer alone, if the email is theirs)."""
    found = await read.customers_by_email(email, owner=owner(caller))
    return caching.listing({"customers": found}, read.cache_max_age)


@router.get(
    "/stats/daily",
    response_model=schemas.DailyStats,
    **secured(QUERY, responses=schemas.responses(422, ok=schemas.CACHE_CONTROL)),
)
async def daily_stats(caller: Staff, read: Read, days: DaysRequired) -> Response:
    """Sales per UTC day from `from` to `to` (both included); days without orders are absent."""
    return caching.listing({"days": await read.daily(days)}, read.cache_max_age)


@router.get(
    "/stats/top-products",
    response_model=schemas.TopProducts,
    **secured(QUERY, responses=schemas.responses(422, ok=schemas.CACHE_CONTROL)),
)
async def top_products(
    caller: Staff,
    read: Read,
    days: DaysRecent,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    by: Measure = Measure.REVENUE,
) -> Response:
    """Best-selling products over the range (default: the last 30 days), by revenue or units."""
    products = await read.top_products(days, by=by, limit=limit)
    body = {"products": products, "from": days.start.isoformat(), "to": days.end.isoformat()}
    return caching.listing(body, read.cache_max_age)
