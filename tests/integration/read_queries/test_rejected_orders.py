"""Orders whose stock is tracked, as the order_details projection writes them from their events:
their stock state and a rejection shown as documented, and `status=rejected` in a customer's
orders."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest

from services.read.adapters.collection_names import Collections
from services.read.adapters.documents import MongoDocumentStore
from services.read.projections import order_details
from services.read.projections.base import Event
from services.read.projections.rollup import Rollups
from shared.contracts.events import (
    DomainEvent,
    OrderLine,
    OrderPlaced,
    OrderRejected,
    OrderStockReserved,
    ShippingAddress,
)
from tests.integration.read_queries.live_side import FakeLiveSide
from tests.openapi import assert_documented

pytestmark = pytest.mark.integration

T0 = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
ADDRESS = ShippingAddress(line1="1 Road", city="Oslo", postal_code="0150", country="NO")


async def no_gaps(stream_id: str, have: int) -> list[Event]:
    raise AssertionError(f"unexpected gap in {stream_id}")


async def project(read: FakeLiveSide, customer: str, hour: int, *steps: DomainEvent) -> str:
    """An order of the customer, placed with SKU A tracked at T0 + `hour`, then `steps` (the
    fulfilment process's), folded into version 1 of order_details; its id."""
    order_id = str(uuid4())
    line = OrderLine(sku="A", name="Apple", quantity=2, unit_price=Decimal("1.25"))
    placed = OrderPlaced(
        customer_id=customer,
        items=[line],
        shipping_address=ADDRESS,
        currency="EUR",
        total=Decimal("2.50"),
        tracked=["A"],
    )
    at = T0 + timedelta(hours=hour)
    events = [
        Event(
            f"{order_id}-{n}", "order", order_id, n, e.event_type(), n, at,
            e.model_dump(mode="json"), actor="ada" if n == 1 else "process:fulfilment",
        )
        for n, e in enumerate([placed, *steps], 1)
    ]  # fmt: skip
    store = MongoDocumentStore(read.db, Collections("order_details", 1))
    await order_details.PROJECTION.apply(store, events, no_gaps, Rollups())
    return order_id


Doc = dict[str, Any]


async def shown(api: httpx.AsyncClient, openapi: Doc, order_id: str) -> Doc:
    response = await api.get(f"/orders/{order_id}")
    assert_documented(openapi, "/orders/{order_id}", "get", response)
    body: dict[str, Any] = response.json()
    return body


async def test_an_orders_stock_and_its_rejection_are_shown_as_documented(
    api: httpx.AsyncClient, read: FakeLiveSide, openapi: Doc
) -> None:
    customer = str(uuid4())
    pending = await project(read, customer, 0)
    reserved = await project(read, customer, 1, OrderStockReserved(skus=["A"]))
    rejected = await project(read, customer, 2, OrderRejected(reason="out_of_stock", skus=["A"]))
    assert (await shown(api, openapi, pending))["stock"] == {"state": "pending"}
    assert (await shown(api, openapi, reserved))["stock"] == {"state": "reserved"}
    body = await shown(api, openapi, rejected)
    assert (body["status"], body["rejection"]) == (
        "rejected",
        {"reason": "out_of_stock", "skus": ["A"]},
    )
    assert [(h["status"], h["by"]) for h in body["status_history"]] == [
        ("placed", "ada"),
        ("rejected", "process:fulfilment"),
    ]
    assert "_tracked" not in body and "rejection" not in await shown(api, openapi, reserved)

    page = await api.get(f"/customers/{customer}/orders", params={"status": "rejected"})
    assert [o["id"] for o in page.json()["orders"]] == [rejected]
    everything = await api.get(f"/customers/{customer}/orders")
    assert [o["id"] for o in everything.json()["orders"]] == [rejected, reserved, pending]
    assert_documented(openapi, "/customers/{customer_id}/orders", "get", everything)
