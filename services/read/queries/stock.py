"""Stock queries: one SKU's levels, and the tracked SKUs (those low in stock when asked) by page,
in SKU order."""

import base64
import re

from shared.contracts.events import SKU_PATTERN

from .orders import Doc, Docs, InvalidCursor

PROJECTION = "stock"
# BSON's largest integer: MongoDB compares no number above it with the levels.
MAX_LEVEL = 2**63 - 1
SHOWN = ("sku", "on_hand", "reserved", "available", "version")
_SKU = re.compile(SKU_PATTERN)


def shown(doc: Doc) -> Doc:
    """A stock document as the API shows it."""
    return {name: doc[name] for name in SHOWN}


async def find_item(docs: Docs, sku: str) -> Doc | None:
    doc = await docs.find_one({"sku": sku})
    return None if doc is None else shown(doc)


def encode_cursor(sku: str) -> str:
    return base64.urlsafe_b64encode(sku.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> str:
    """The SKU of the last item of the previous page."""
    try:
        sku = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except ValueError as exc:  # binascii.Error, UnicodeDecodeError: ValueErrors
        raise InvalidCursor("not a cursor from a previous page") from exc
    if not _SKU.fullmatch(sku):
        raise InvalidCursor("not a cursor from a previous page")
    return sku


async def items(
    docs: Docs, *, available_below: int | None, limit: int, after: str | None
) -> tuple[list[Doc], str | None]:
    """One page of the tracked SKUs in SKU order (only those with fewer than `available_below`
    units available, when given), and the cursor of the next page if any."""
    query: Doc = {}
    if available_below is not None:
        query["available"] = {"$lt": available_below}
    if after is not None:
        query["sku"] = {"$gt": after}
    found = docs.find(query, projection=dict.fromkeys(SHOWN, 1)).sort("sku", 1).limit(limit + 1)
    page = await found.to_list()
    more = len(page) > limit
    page = page[:limit]
    return [shown(d) for d in page], encode_cursor(page[-1]["sku"]) if more else None
