"""The events and commands every part uses, so that all of them measure the same kind of work."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx

from shared.contracts.envelope import EventMetadata
from shared.contracts.events import (
    CustomerRegistered,
    DomainEvent,
    OrderCancelled,
    OrderConfirmed,
    OrderItemAdded,
    OrderLine,
    OrderPlaced,
    OrderShipped,
    ShippingAddress,
)

SKUS = [f"SKU-{n:03d}" for n in range(50)]
ADDRESS = ShippingAddress(
    line1="12 St James's Square", city="London", postal_code="SW1Y 4JH", country="GB"
)
EVENTS_PER_ORDER = 5  # placed, two items added, confirmed, then shipped or cancelled


def line(n: int) -> OrderLine:
    """The n-th line of a catalogue where each SKU has one name and one price."""
    k = n % len(SKUS)
    return OrderLine(
        sku=SKUS[k],
        name=f"{SKUS[k]} insulated bottle, 750 ml, brushed steel",
        quantity=1 + n % 4,
        unit_price=Decimal(f"{2 + k * 3}.{k * 7 % 100:02d}"),
    )


def order_placed(customer_id: UUID, n: int) -> OrderPlaced:
    items = [line(n), line(n + 1)]
    total = sum((x.unit_price * x.quantity for x in items), Decimal("0"))
    return OrderPlaced(
        customer_id=customer_id, items=items, shipping_address=ADDRESS, currency="EUR", total=total
    )


def item_added(n: int) -> OrderItemAdded:
    return OrderItemAdded(**line(n).model_dump())


def metadata() -> EventMetadata:
    """What the write service records with a command's events."""
    trace, span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    return EventMetadata(
        correlation_id=str(uuid.uuid4()),
        causation_id=str(uuid.uuid4()),
        command_id=str(uuid.uuid4()),
        traceparent=f"00-{trace}-{span}-01",
    )


def history(total_events: int) -> Iterator[tuple[str, UUID, list[DomainEvent]]]:
    """Streams adding up to `total_events`: one customer per 4 orders, 5 events per order."""
    orders = total_events * 4 // (4 * EVENTS_PER_ORDER + 1)
    customers = total_events - orders * EVENTS_PER_ORDER
    ids = [uuid.uuid4() for _ in range(customers)]
    for n, customer_id in enumerate(ids):
        yield (
            "customer",
            customer_id,
            [CustomerRegistered(name=f"Customer {n}", email=email_address(n))],
        )
    for n in range(orders):
        last: DomainEvent = (
            OrderCancelled(reason="changed their mind")
            if n % 5 == 0
            else OrderShipped(carrier="Royal Mail", tracking_number=f"RM{n:09d}GB")
        )
        events = [order_placed(ids[n % customers], n), item_added(n + 2), item_added(n + 3)]
        yield "order", uuid.uuid4(), [*events, OrderConfirmed(), last]


def email_address(n: int) -> str:
    """A unique address for the n-th customer."""
    return f"customer.{n}.{uuid.uuid4().hex[:6]}@bench.example"


def place_order_body(customer_id: str, n: int) -> dict[str, Any]:
    """The JSON body of POST /orders."""
    return {
        "customer_id": customer_id,
        "currency": "EUR",
        "items": [line(n).model_dump(mode="json"), line(n + 1).model_dump(mode="json")],
        "shipping_address": ADDRESS.model_dump(mode="json"),
    }


def add_item_body(n: int) -> dict[str, Any]:
    """The JSON body of POST /orders/{id}/items."""
    return line(n).model_dump(mode="json")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register_customers(write_url: str, count: int, *, token: str) -> list[str]:
    """Register `count` customers through the write API (not timed); returns their ids."""
    gate = asyncio.Semaphore(16)
    headers = bearer(token)
    async with httpx.AsyncClient(base_url=write_url, timeout=30, headers=headers) as http:

        async def register(n: int) -> str:
            async with gate:
                body = {"name": f"Customer {n}", "email": email_address(n)}
                response = await http.post("/customers", json=body)
                response.raise_for_status()
                return str(response.json()["id"])

        return list(await asyncio.gather(*(register(n) for n in range(count))))


async def place_orders(
    write_url: str, customers: list[str], count: int, *, token: str
) -> list[str]:
    """Place `count` orders spread over `customers` (not timed); returns the order ids."""
    gate = asyncio.Semaphore(16)
    headers = bearer(token)
    async with httpx.AsyncClient(base_url=write_url, timeout=30, headers=headers) as http:

        async def place(n: int) -> str:
            async with gate:
                body = place_order_body(customers[n % len(customers)], n)
                response = await http.post("/orders", json=body)
                response.raise_for_status()
                return str(response.json()["id"])

        return list(await asyncio.gather(*(place(n) for n in range(count))))
