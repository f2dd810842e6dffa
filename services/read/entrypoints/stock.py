"""The stock routes: one SKU's units, and the tracked SKUs (those low in stock when asked), read
from the stock projection. For staff only (ordering:query): a customer's token gets 403."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shared.plumbing.access import secured
from shared.plumbing.auth import QUERY
from shared.plumbing.http import problem

from ..queries.stock import MAX_LEVEL
from . import caching, schemas
from .deps import IfNoneMatch, Read, Sku, Staff, StockAfter

router = APIRouter()
NOT_TRACKED = "No stock is tracked for this SKU (none was ever received)"


@router.get(
    "/stock/{sku}",
    response_model=schemas.StockItem,
    **secured(
        QUERY,
        responses=schemas.responses(304, 404, 422, ok=schemas.REVALIDATE, s404=NOT_TRACKED),
    ),
)
async def get_stock(
    caller: Staff, request: Request, sku: Sku, read: Read, if_none_match: IfNoneMatch = None
) -> Response:
    """One SKU's units on hand, reserved for orders, and available."""
    doc = await read.stock_item(sku)
    if doc is None:
        return problem(404, f"no stock is tracked for SKU {sku}", instance=request.url.path)
    return caching.document(doc, if_none_match)


@router.get(
    "/stock",
    response_model=schemas.StockPage,
    **secured(QUERY, responses=schemas.responses(422, ok=schemas.CACHE_CONTROL)),
)
async def list_stock(
    caller: Staff,
    read: Read,
    after: StockAfter,
    available_below: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_LEVEL,
            description="only the SKUs with fewer units available than this (low stock)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """The tracked SKUs in SKU order, or only those low in stock (`available_below`); pass
    `next_cursor` back as `cursor` for the next page."""
    page, cursor = await read.stock_items(available_below=available_below, limit=limit, after=after)
    return caching.listing({"items": page, "next_cursor": cursor}, read.cache_max_age)
