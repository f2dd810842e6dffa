"""The load that runs while a projection is rebuilt: commands to the write API that the
aggregates accept, and queries of known documents that must keep answering."""

import asyncio
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

Doc = dict[str, Any]
ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}
PRODUCTS = {"A": ("Widget", "9.99"), "B": ("Gadget", "25.00"), "C": ("Gizmo", "4.50")}


@dataclass
class Workload:
    """Sends commands to the write API and remembers the customers and orders they made."""

    http: httpx.AsyncClient
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    customers: list[str] = field(default_factory=list)
    orders: dict[str, str] = field(default_factory=dict)  # order id -> status
    owner: dict[str, str] = field(default_factory=dict)  # order id -> customer id
    busy: set[str] = field(default_factory=set)  # orders with a command in flight
    sent: int = 0
    errors: list[str] = field(default_factory=list)

    async def send(self, method: str, path: str, body: Doc | None = None) -> Doc | None:
        response = await self.http.request(method, path, json=body)
        self.sent += 1
        if response.status_code not in (200, 201):
            self.errors.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
            return None
        result: Doc = response.json()
        return result

    async def register(self) -> None:
        n = len(self.customers)
        body = {"name": f"Customer {n}", "email": f"c{n}.{uuid.uuid4().hex[:8]}@rebuild.test"}
        if created := await self.send("POST", "/customers", body):
            self.customers.append(created["id"])

    async def place(self) -> None:
        customer = self.rng.choice(self.customers)
        lines = [line(sku, self.rng.randint(1, 3)) for sku in self.rng.sample(list(PRODUCTS), 2)]
        body = {
            "customer_id": customer,
            "items": lines,
            "shipping_address": ADDRESS,
            "currency": "EUR",
        }
        if created := await self.send("POST", "/orders", body):
            self.orders[created["id"]] = "placed"
            self.owner[created["id"]] = customer

    async def step(self) -> None:
        """One random command that the aggregates accept in their current state.

        An order with a command in flight is left alone, so concurrent steps never race.
        """
        free = {o: s for o, s in self.orders.items() if o not in self.busy}
        placed = [o for o, s in free.items() if s == "placed"]
        confirmed = [o for o, s in free.items() if s == "confirmed"]
        roll = self.rng.random()
        if roll < 0.1 or not self.customers:
            await self.register()
        elif roll < 0.35 or not placed:
            await self.place()
        elif roll < 0.65:
            sku = self.rng.choice(list(PRODUCTS))
            await self.on_order(self.rng.choice(placed), "items", line(sku, 1), None)
        elif roll < 0.8:
            await self.on_order(self.rng.choice(placed), "confirm", None, "confirmed")
        elif roll < 0.92:
            order = self.rng.choice(placed + confirmed)
            await self.on_order(order, "cancel", {"reason": "changed my mind"}, "cancelled")
        else:
            customer = self.rng.choice(self.customers)
            body = {"name": f"Renamed {self.sent}"}
            await self.send("POST", f"/customers/{customer}/rename", body)

    async def on_order(self, order: str, action: str, body: Doc | None, after: str | None) -> None:
        self.busy.add(order)
        try:
            if await self.send("POST", f"/orders/{order}/{action}", body) and after:
                self.orders[order] = after
        finally:
            self.busy.discard(order)

    async def run_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()

    def ordering_customers(self) -> set[str]:
        return set(self.owner.values())

    def paths(self) -> list[str]:
        """The read API's paths of every known order and customer."""
        orders = [f"/orders/{o}" for o in self.orders]
        return orders + [
            f"/customers/{c}{tail}" for c in self.customers for tail in ("", "/orders")
        ]


def line(sku: str, quantity: int) -> Doc:
    name, price = PRODUCTS[sku]  # one price per SKU: the write side refuses a second one
    return {"sku": sku, "name": name, "quantity": quantity, "unit_price": price}


# --- the read side: queries that must keep answering ---------------------------------------------


@dataclass
class Queries:
    """Queries known documents in a loop; records every answer that is not a document."""

    http: httpx.AsyncClient
    orders: list[str]
    customers: list[str]
    ordering: set[str]  # customers known to have orders
    answered: int = 0
    failures: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)

    async def run_until(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            order = self.orders[n % len(self.orders)]
            customer = self.customers[n % len(self.customers)]
            await self.check(f"/orders/{order}", order)
            await self.check(f"/customers/{customer}", customer)
            await self.check(f"/customers/{customer}/orders", customer)
            n += 1

    async def check(self, path: str, ident: str) -> None:
        try:
            response = await self.http.get(path)
        except httpx.HTTPError as exc:
            self.failures.append(f"GET {path}: {exc!r}")
            return
        self.answered += 1
        if response.status_code != 200:
            self.failures.append(f"GET {path}: {response.status_code} {response.text[:200]}")
            return
        body = response.json()
        if path.endswith("/orders"):
            if ident in self.ordering and not body.get("orders"):
                self.failures.append(f"GET {path}: no orders for a customer who has some")
            return
        if body.get("id") != ident:
            self.failures.append(f"GET {path}: not the document asked for: {body}")
            return
        seen = self.versions.get(path, 0)
        if body["version"] < seen:  # a query must never go back in time
            self.failures.append(f"GET {path}: version {body['version']} after {seen}")
        self.versions[path] = max(seen, body["version"])
