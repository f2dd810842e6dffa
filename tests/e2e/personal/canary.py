"""Customers whose personal values are unique in the whole system, written through the write
API: what the scans of tests.e2e.personal.scans look for."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.write_api import change_email, command, confirm, item, register, rename

Doc = dict[str, Any]


def _tag(size: int = 12) -> str:
    return uuid.uuid4().hex[:size]


def unique_address() -> dict[str, str]:
    """A shipping address whose street, city and postal code appear nowhere else."""
    return {
        "line1": f"{int(_tag(4), 16)} Canary {_tag()} Street",
        "city": f"Canarytown {_tag()}",
        "postal_code": f"PC{_tag(10)}",
        "country": "FR",
    }


@dataclass(frozen=True)
class Canary:
    """A customer registered, renamed and moved to another email, with two orders shipped to
    one unique address: every personal field of every event type holds a value of its own."""

    customer_id: str
    names: tuple[str, ...]
    emails: tuple[str, ...]
    address: dict[str, str]
    orders: tuple[str, ...]

    @property
    def values(self) -> tuple[str, ...]:
        """Every personal value the customer ever gave."""
        street = (self.address["line1"], self.address["city"], self.address["postal_code"])
        return (*self.names, *self.emails, *street)

    @property
    def paths(self) -> list[str]:
        """The read API's documents of the customer: profile and orders."""
        return [f"/customers/{self.customer_id}", *(f"/orders/{o}" for o in self.orders)]

    @property
    def shown(self) -> tuple[str, ...]:
        """The values the read documents hold while the customer lives (the first name is
        replaced by the rename: no document keeps a name history)."""
        return tuple(v for v in self.values if v != self.names[0])


async def place_to(
    client: httpx.AsyncClient, customer_id: str, address: dict[str, str], *items: Doc
) -> str:
    """An order shipped to `address`; its id."""
    body = {
        "customer_id": customer_id,
        "items": list(items),
        "shipping_address": address,
        "currency": "EUR",
    }
    return str((await command(client, "POST", "/orders", body))["id"])


async def hatch(client: httpx.AsyncClient) -> Canary:
    """A canary customer: registered with a mixed-case email, renamed, moved to another email,
    with one confirmed and one placed order to a unique address."""
    names = (f"Canary {_tag()}", f"Renamed Canary {_tag()}")
    emails = (f"Canary.{_tag()}@Example.COM", f"moved.{_tag()}@canary.example.org")
    customer_id = await register(client, names[0], emails[0])
    await rename(client, customer_id, names[1])
    await change_email(client, customer_id, emails[1])
    address = unique_address()
    first = await place_to(client, customer_id, address, item("A", 2), item("B", 1))
    second = await place_to(client, customer_id, address, item("C", 3))
    await confirm(client, first)
    return Canary(customer_id, names, emails, address, (first, second))


async def neighbour(client: httpx.AsyncClient) -> Canary:
    """A customer who stays: registered once, with one order to an address of their own."""
    name, email = f"Neighbour {_tag()}", f"neighbour.{_tag()}@example.net"
    customer_id = await register(client, name, email)
    address = unique_address()
    order = await place_to(client, customer_id, address, item("D", 4))
    return Canary(customer_id, (name,), (email,), address, (order,))
