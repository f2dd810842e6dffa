"""Order queries: one order (optionally once it reached a version) and a customer's orders by page.

Reads for a customer's token name the customer as `owner`: another customer's order is then
treated as absent, so the answer (404, and how long it took) is the same as for no order at all.

Also home of `public`, which shapes any stored document for the API; the other query modules use it.
"""

import base64
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pymongo.asynchronous.collection import AsyncCollection

from shared.contracts.orders import OrderStatus as OrderStatus  # the one declaration, re-exported

PROJECTION = "order_details"
# A waiting reader re-reads when this process writes its order, else after these pauses (another
# replica may own the order's partition): short at first, longer the longer it waits.
FIRST_POLL_SECONDS, MAX_POLL_SECONDS = 0.05, 0.5

Doc = dict[str, Any]
Docs = AsyncCollection[Any]
Wait = Callable[[str, float], Awaitable[None]]


class InvalidCursor(ValueError):
    """A page cursor that this service did not produce."""


class VersionNotReached(Exception):
    """The order did not reach the asked version before the deadline; `seen` is the version it
    was at, None when there was no such order at all."""

    def __init__(self, order_id: str, seen: int | None, wanted: int) -> None:
        at = "not seen yet" if seen is None else f"at version {seen}"
        super().__init__(f"order {order_id} is {at}, not at version {wanted} yet")
        self.order_id, self.seen = order_id, seen


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds (BSON's precision) and a `Z`; naive means UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    # Formatted by hand: isoformat() plus replace() cost three times as much on every date shown.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


def _plain(value: Any) -> Any:
    # Documents come from BSON as plain dicts, lists and naive datetimes: exact type checks are
    # much cheaper than isinstance() against the abstract Mapping, on every field of every page.
    kind = type(value)
    if kind is dict:
        return {k: _plain(v) for k, v in value.items() if not k.startswith("_")}
    if kind is list:
        return [_plain(v) for v in value]
    if kind is datetime:
        return iso(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, datetime):
        return iso(value)
    return value


def public(doc: Mapping[str, Any]) -> Doc:
    """A stored document as the API shows it: `_id` as `id`, no `_` fields, ISO dates."""
    shown: Doc = {"id": str(doc["_id"])}
    shown.update(_plain(doc))
    return shown


def encode_cursor(doc: Mapping[str, Any]) -> str:
    raw = f"{iso(doc['placed_at'])}|{doc['_id']}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, str]:
    """The (placed_at, order id) of the last order of the previous page."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        at, _, ident = raw.partition("|")
        moment, order_id = datetime.fromisoformat(at), str(UUID(ident))
        if moment.tzinfo is None:
            raise ValueError("no time zone")
        # A moment at the calendar's edge with an offset has no UTC date: OverflowError.
        return moment.astimezone(UTC), order_id
    except (ValueError, OverflowError) as exc:  # binascii.Error, UnicodeDecodeError: ValueErrors
        raise InvalidCursor("not a cursor from a previous page") from exc


def owned(doc: Doc | None, owner: str | None) -> Doc | None:
    """The order as read, unless it is not `owner`'s (object-level authorization)."""
    if doc is None or (owner is not None and doc.get("customer_id") != owner):
        return None
    return doc


async def find_order(docs: Docs, order_id: str, *, owner: str | None = None) -> Doc | None:
    doc = owned(await docs.find_one({"_id": order_id}), owner)
    return None if doc is None else public(doc)


async def order_at_version(
    docs: Docs,
    order_id: str,
    *,
    min_version: int,
    timeout: float,
    wait: Wait,
    owner: str | None = None,
) -> Doc:
    """The order once its version is at least `min_version`; re-read from Mongo on every wake."""
    deadline = time.monotonic() + timeout
    pause = FIRST_POLL_SECONDS
    while True:
        doc = owned(await docs.find_one({"_id": order_id}), owner)
        if doc is not None and doc.get("version", 0) >= min_version:
            return public(doc)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            seen = None if doc is None else int(doc.get("version", 0))
            raise VersionNotReached(order_id, seen, min_version)
        await wait(order_id, min(remaining, pause))
        pause = min(pause * 2, MAX_POLL_SECONDS)


async def customer_orders(
    docs: Docs,
    customer_id: str,
    *,
    status: OrderStatus | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> tuple[list[Doc], str | None]:
    """One page of a customer's orders, newest first, and the cursor of the next page if any."""
    query: Doc = {"customer_id": customer_id}
    if status is not None:
        query["status"] = status.value
    if after is not None:
        at, last_id = after
        query["$or"] = [{"placed_at": {"$lt": at}}, {"placed_at": at, "_id": {"$lt": last_id}}]
    found = docs.find(query).sort([("placed_at", -1), ("_id", -1)]).limit(limit + 1)
    page = await found.to_list()
    more = len(page) > limit
    page = page[:limit]
    return [public(d) for d in page], encode_cursor(page[-1]) if more else None
