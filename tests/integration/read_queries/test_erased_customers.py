"""What the read API serves of an erased customer, from documents the projections wrote from
sealed events: nulls where the personal data was, `erased`, a new ETag, no match by email any
more, each as documented; and `GET /erasures/{customer_id}`, which says which projections have
applied the erasure."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import httpx
import pytest

from deploy.local.stack import LocalIssuer
from services.read.adapters.collection_names import Collections
from services.read.adapters.documents import MongoDocumentStore
from services.read.application.personal import PersonalData
from services.read.projections import PROJECTIONS
from services.read.projections.base import Event
from services.read.projections.rollup import Rollups
from shared.contracts.events import (
    CustomerErased,
    CustomerRegistered,
    DomainEvent,
    OrderLine,
    OrderPlaced,
    ShippingAddress,
)
from shared.contracts.personal import ERASED_FIELDS
from tests.auth import bearer, token
from tests.integration.read_queries.documents import Doc
from tests.integration.read_queries.live_side import FakeLiveSide
from tests.openapi import assert_documented
from tests.unit.read_fakes import FakeKeyRing

pytestmark = pytest.mark.integration

T0 = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)
ADDRESS = ShippingAddress(line1="9 Elm Row", city="Bergen", postal_code="5003", country="NO")


def event(stream: str, version: int, e: DomainEvent, minutes: int) -> Event:
    at = T0 + timedelta(minutes=minutes)
    data = e.model_dump(mode="json")
    return Event(f"{stream}-{version}", e.stream_type, stream, version, e.event_type(), 1, at, data)


async def project(read: FakeLiveSide, ring: FakeKeyRing, events: list[Event], *names: str) -> None:
    """The events sealed, then applied by the projections as every path applies them."""
    sealed = [ring.sealed(e) for e in events]
    for name in names or PROJECTIONS:
        store = MongoDocumentStore(read.db, Collections(name, 1))
        await PersonalData(PROJECTIONS[name], ring).apply(store, sealed, no_gaps, Rollups())


async def no_gaps(stream_id: str, have: int) -> list[Event]:
    raise AssertionError(f"unexpected gap in {stream_id}")


async def erased_customer(read: FakeLiveSide, ring: FakeKeyRing) -> tuple[str, str, str]:
    """A customer registered, with one order; its id, the order's, and the customer's email."""
    customer, order = str(uuid4()), str(uuid4())
    email = f"Eli.{customer[:8]}@example.com"
    line = OrderLine(sku="A", name="Apple", quantity=2, unit_price=Decimal("1.25"))
    placed = OrderPlaced(
        customer_id=customer, items=[line], shipping_address=ADDRESS, currency="EUR",
        total=Decimal("2.50"),
    )  # fmt: skip
    registered = CustomerRegistered(name="Eli Moss", email=email)
    await project(read, ring, [event(customer, 1, registered, 0), event(order, 1, placed, 1)])
    return customer, order, email


async def test_an_erased_customer_and_their_orders_are_served_blank_as_documented(
    api: httpx.AsyncClient, read: FakeLiveSide, openapi: Doc
) -> None:
    ring = FakeKeyRing()
    customer, order, email = await erased_customer(read, ring)
    before = await api.get(f"/customers/{customer}")
    order_before = await api.get(f"/orders/{order}")
    assert before.json()["name"] == "Eli Moss" and "erased" not in before.json()
    assert order_before.json()["shipping_address"]["line1"] == "9 Elm Row"
    ring.destroy(customer)
    erasure = CustomerErased(erased_at=T0 + timedelta(hours=1), fields=list(ERASED_FIELDS))
    await project(read, ring, [event(customer, 2, erasure, 60)])

    profile = await api.get(f"/customers/{customer}")
    assert_documented(openapi, "/customers/{customer_id}", "get", profile)
    shown = profile.json()
    assert (shown["name"], shown["email"], shown["email_lower"], shown["email_history"]) == (
        None,
        None,
        None,
        [],
    )
    assert (shown["erased"], shown["erased_at"]) == (True, "2030-05-01T10:00:00.000Z")
    assert profile.headers["ETag"] != before.headers["ETag"]
    placed = await api.get(f"/orders/{order}")
    assert_documented(openapi, "/orders/{order_id}", "get", placed)
    shown = placed.json()
    assert (shown["customer_name"], shown["customer_email"], shown["erased"]) == (None, None, True)
    assert shown["shipping_address"] == {
        "line1": None, "city": None, "postal_code": None, "country": "NO",
    }  # fmt: skip
    assert shown["total"] == "2.50" and placed.headers["ETag"] != order_before.headers["ETag"]
    found = await api.get("/customers", params={"email": email})
    assert found.json() == {"customers": []}
    listed = await api.get(f"/customers/{customer}/orders")
    assert_documented(openapi, "/customers/{customer_id}/orders", "get", listed)
    assert [o["erased"] for o in listed.json()["orders"]] == [True]


async def test_the_erasure_status_names_the_projections_that_applied_it(
    api: httpx.AsyncClient, read: FakeLiveSide, openapi: Doc, issuer: LocalIssuer
) -> None:
    ring = FakeKeyRing()
    customer, _, _ = await erased_customer(read, ring)
    path = f"/erasures/{customer}"
    never = await api.get(path)
    assert_documented(openapi, "/erasures/{customer_id}", "get", never)
    assert never.json() == {
        "customer_id": customer,
        "projections": {name: {"caught_up": False} for name in PROJECTIONS},
    }
    ring.destroy(customer)
    erasure = CustomerErased(erased_at=T0 + timedelta(hours=1), fields=list(ERASED_FIELDS))
    await project(read, ring, [event(customer, 2, erasure, 60)], "customers", "sales")
    partly = await api.get(path)
    assert_documented(openapi, "/erasures/{customer_id}", "get", partly)
    caught_up = {name: p["caught_up"] for name, p in partly.json()["projections"].items()}
    assert caught_up == {"customers": True, "sales": True, "order_details": False, "stock": False}
    assert partly.headers["Cache-Control"] == "no-store"
    querying = bearer(token(issuer, ("ordering:query",)))
    refused = await api.get(path, headers=querying)
    assert refused.status_code == 403
    # Whoever may erase a customer may see where the erasure got to.
    erasing = bearer(token(issuer, ("ordering:erase",)))
    assert (await api.get(path, headers=erasing)).json() == partly.json()
    assert (await api.get("/erasures/not-a-uuid")).status_code == 422
