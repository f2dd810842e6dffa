"""Commands sent to the write API as its clients send them, and a scripted scenario that goes
through every command."""

import uuid
from typing import Any

import httpx

from tests.e2e.read_api import assert_problem

ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}
Doc = dict[str, Any]

# name, unit price: one price per SKU (a second price for a SKU is refused)
PRODUCTS = {
    "A": ("Widget", "9.99"),
    "B": ("Gadget", "25.00"),
    "C": ("Gizmo", "4.50"),
    "D": ("Doohickey", "1.99"),
    "E": ("Thingamajig", "100.00"),
}


def item(sku: str, quantity: int, price: str | None = None) -> Doc:
    name, unit_price = PRODUCTS[sku]
    return {"sku": sku, "name": name, "quantity": quantity, "unit_price": price or unit_price}


async def command(
    client: httpx.AsyncClient, method: str, path: str, body: Doc | None = None
) -> Doc:
    """Send one command; it must succeed. Returns {"id", "version", "position"}."""
    response = await client.request(method, path, json=body)
    assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
    result: Doc = response.json()
    return result


async def register(client: httpx.AsyncClient, name: str, email: str) -> str:
    return str((await command(client, "POST", "/customers", {"name": name, "email": email}))["id"])


async def place_order(client: httpx.AsyncClient, customer_id: str, *items: Doc) -> Doc:
    body = {"customer_id": customer_id, "items": list(items), "shipping_address": ADDRESS}
    return await command(client, "POST", "/orders", {**body, "currency": "EUR"})


async def place(client: httpx.AsyncClient, customer_id: str, *items: Doc) -> str:
    return str((await place_order(client, customer_id, *items))["id"])


async def add(client: httpx.AsyncClient, order_id: str, line: Doc) -> Doc:
    return await command(client, "POST", f"/orders/{order_id}/items", line)


async def remove(client: httpx.AsyncClient, order_id: str, sku: str) -> Doc:
    return await command(client, "DELETE", f"/orders/{order_id}/items/{sku}")


async def confirm(client: httpx.AsyncClient, order_id: str) -> Doc:
    return await command(client, "POST", f"/orders/{order_id}/confirm")


async def ship(client: httpx.AsyncClient, order_id: str) -> Doc:
    body = {"carrier": "UPS", "tracking_number": f"1Z{order_id[:8]}"}
    return await command(client, "POST", f"/orders/{order_id}/ship", body)


async def cancel(client: httpx.AsyncClient, order_id: str, reason: str) -> Doc:
    return await command(client, "POST", f"/orders/{order_id}/cancel", {"reason": reason})


async def rename(client: httpx.AsyncClient, customer_id: str, name: str) -> Doc:
    return await command(client, "POST", f"/customers/{customer_id}/rename", {"name": name})


async def change_email(client: httpx.AsyncClient, customer_id: str, email: str) -> Doc:
    path = f"/customers/{customer_id}/change-email"
    return await command(client, "POST", path, {"email": email})


# -- the scripted scenario -------------------------------------------------------------------------


async def run_script(client: httpx.AsyncClient) -> dict[str, str]:
    """Customers and orders going through every command; returns the ids by role."""
    tag = uuid.uuid4().hex[:8]
    ids = {
        "alice": await register(client, "Alice", f"alice.{tag}@example.com"),
        "bob": await register(client, "Bob", f"Bob.{tag}@Example.COM"),
        "carol": await register(client, "Carol", f"carol.{tag}@example.com"),
        "dave": await register(client, "Dave", f"dave.{tag}@example.com"),
        "erin": await register(client, "Erin", f"erin.{tag}@example.com"),  # never orders
    }
    await change_email(client, ids["carol"], f"Carol.New.{tag}@example.com")  # before her order
    ids["shipped"] = o1 = await place(client, ids["alice"], item("A", 2), item("B", 1))
    await add(client, o1, item("A", 3))  # the same SKU again: 5 in all
    await add(client, o1, item("C", 1))
    await remove(client, o1, "B")
    await confirm(client, o1)
    await ship(client, o1)
    ids["cancelled_placed"] = o2 = await place(client, ids["alice"], item("C", 2))
    await cancel(client, o2, "changed my mind")
    ids["cancelled_confirmed"] = o3 = await place(client, ids["bob"], item("B", 1), item("D", 3))
    await confirm(client, o3)
    await cancel(client, o3, "out of stock")
    ids["confirmed"] = o4 = await place(client, ids["bob"], item("D", 10))
    await add(client, o4, item("E", 1))
    await confirm(client, o4)
    ids["placed"] = o5 = await place(client, ids["carol"], item("A", 1), item("A", 1))
    await add(client, o5, item("A", 1))
    refused = await client.post(f"/orders/{o5}/items", json=item("A", 1, price="1.00"))
    assert_problem(refused, 409)
    ids["reshuffled"] = o6 = await place(client, ids["dave"], item("E", 2))
    await add(client, o6, item("B", 1))
    await remove(client, o6, "E")
    await confirm(client, o6)
    await ship(client, o6)
    await rename(client, ids["alice"], "Alice Liddell")  # after her orders were placed
    await change_email(client, ids["bob"], f"robert.{tag}@example.com")  # after his orders
    await rename(client, ids["dave"], "David")
    await rename(client, ids["dave"], "Dave Bowman")
    return ids
