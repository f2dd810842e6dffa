"""A client of the write API that sends valid commands one after another while MongoDB goes
away and comes back."""

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import httpx

from tests.e2e.crashes.write_side import PRICES
from tests.read_side import Doc

ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}


Choice = tuple[str, dict[str, Any] | None, Callable[[Doc], None]]


@dataclass
class Writer:
    """Sends valid commands to the write API one after another, as a client would."""

    url: str
    rng: random.Random
    headers: dict[str, str] = field(default_factory=dict)
    sent: int = 0
    customers: list[str] = field(default_factory=list)
    orders: dict[str, str] = field(default_factory=dict)  # order id -> status
    failures: list[str] = field(default_factory=list)

    async def run(self, total: int, pause: float) -> None:
        headers = self.headers
        async with httpx.AsyncClient(base_url=self.url, timeout=30, headers=headers) as client:
            while self.sent < total:
                path, body, remember = self.choose()
                response = await client.post(path, json=body)
                if response.status_code in (200, 201):
                    remember(response.json())
                else:
                    self.failures.append(f"POST {path}: {response.status_code} {response.text}")
                self.sent += 1
                await asyncio.sleep(pause)

    def choose(self) -> Choice:
        roll = self.rng.random()
        placed = [o for o, s in self.orders.items() if s == "placed"]
        open_ = [o for o, s in self.orders.items() if s in ("placed", "confirmed")]
        confirmed = [o for o, s in self.orders.items() if s == "confirmed"]
        if len(self.customers) < 5 or roll < 0.08:
            return self.register()
        if roll < 0.25 or not placed:
            return self.place(self.rng.choice(self.customers))
        if roll < 0.75:
            return self.add(self.rng.choice(placed))
        if roll < 0.80:
            return self.status(self.rng.choice(placed), "confirm", None, "confirmed")
        if roll < 0.84 and confirmed:
            ship = {"carrier": "UPS", "tracking_number": f"1Z{self.sent}"}
            return self.status(self.rng.choice(confirmed), "ship", ship, "shipped")
        if roll < 0.88 and open_:
            return self.status(self.rng.choice(open_), "cancel", {"reason": "no"}, "cancelled")
        customer = self.rng.choice(self.customers)
        if roll < 0.94:
            return f"/customers/{customer}/rename", {"name": f"Name {self.sent}"}, _ignore
        return f"/customers/{customer}/change-email", {"email": _email()}, _ignore

    def register(self) -> Choice:
        body = {"name": f"Customer {self.sent}", "email": _email()}
        return "/customers", body, lambda r: self.customers.append(r["id"])

    def place(self, customer_id: str) -> Choice:
        sku = self.rng.choice(list(PRICES))
        line = {"sku": sku, "name": sku, "quantity": 1, "unit_price": str(PRICES[sku])}
        body = {
            "customer_id": customer_id,
            "items": [line],
            "shipping_address": ADDRESS,
            "currency": "EUR",
        }
        return "/orders", body, lambda r: self.orders.__setitem__(r["id"], "placed")

    def add(self, order_id: str) -> Choice:
        sku = self.rng.choice(list(PRICES))
        line = {"sku": sku, "name": sku, "quantity": self.rng.randint(1, 5)}
        return f"/orders/{order_id}/items", {**line, "unit_price": str(PRICES[sku])}, _ignore

    def status(self, order_id: str, verb: str, body: Doc | None, after: str) -> Choice:
        return (
            f"/orders/{order_id}/{verb}",
            body,
            lambda _: self.orders.__setitem__(order_id, after),
        )


def _ignore(_: Doc) -> None:
    """Nothing to remember about this command's answer."""


def _email() -> str:
    return f"{uuid4().hex[:10]}@outage.test"


async def wait_sent(writer: Writer, task: asyncio.Task[None], count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while writer.sent < count:
        if task.done():
            task.result()  # raises what stopped the writer
            raise AssertionError(f"the writer stopped after {writer.sent} commands")
        assert time.monotonic() < deadline, f"only {writer.sent} commands sent in {timeout}s"
        await asyncio.sleep(0.05)
    return writer.sent
