"""What the personal-data tests check of the running services: commands refused for an erased
customer, what the decrypt endpoint must answer and the audit it leaves, the read documents'
counts."""

import uuid
from typing import Any

import asyncpg
import httpx

from shared.contracts.events import CUSTOMER_REGISTERED, ORDER_PLACED
from tests.e2e.personal.canary import Canary, unique_address
from tests.e2e.personal.scans import found_in
from tests.e2e.read_api import assert_problem
from tests.e2e.rebuild.database import ReadDatabase
from tests.e2e.write_api import item
from tests.read_side import PROJECTIONS

Doc = dict[str, Any]
BLANK_ADDRESS = {"line1": None, "city": None, "postal_code": None}


async def head(client: httpx.AsyncClient) -> int:
    return int((await client.get("/events/head")).raise_for_status().json()["position"])


async def assert_refused(client: httpx.AsyncClient, canary: Canary) -> None:
    """A rename, an email change and a new order of the erased customer: each a 409
    `customer-erased` problem naming no personal value, and nothing appended to the log."""
    tag, address = uuid.uuid4().hex[:12], unique_address()
    cid = canary.customer_id
    order = {"customer_id": cid, "items": [item("A", 1)], "shipping_address": address}
    attempts = [
        (f"/customers/{cid}/rename", {"name": f"Revived {tag}"}),
        (f"/customers/{cid}/change-email", {"email": f"revived.{tag}@example.com"}),
        ("/orders", {**order, "currency": "EUR"}),
    ]
    position = await head(client)
    for path, body in attempts:
        answer = await client.post(path, json=body)
        problem = assert_problem(answer, 409)
        assert problem["type"].endswith("customer-erased"), problem
        echoed = found_in(answer.text, (tag, *address.values(), *canary.values))
        assert echoed <= {address["country"]}, f"{path}: the problem shows {echoed}"
    assert await head(client) == position, "a refused command appended events"


def disclosed(event_id: str, event_type: str, who: Canary) -> Doc:
    """What GET /events/{id}/personal-data answers for the live customer `who`'s event."""
    fields = {
        CUSTOMER_REGISTERED: {"name": who.names[0], "email": who.emails[0]},
        ORDER_PLACED: {
            f"shipping_address.{part}": who.address[part]
            for part in ("line1", "city", "postal_code")
        },
    }[event_type]
    return {
        "event_id": event_id,
        "event_type": event_type,
        "customer_id": who.customer_id,
        "fields": fields,
    }


async def disclosures(pg_url: str) -> set[str]:
    """The events whose personal data was asked for, from the audit table."""
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch("SELECT DISTINCT event_id::text FROM personal_data_disclosures")
        return {r["event_id"] for r in rows}
    finally:
        await conn.close()


async def counted(read_db: ReadDatabase) -> dict[str, int]:
    """How many documents each projection's active collections hold (by role), and the dead
    letters."""
    counts = {"dead_letters": await read_db.dead_letters()}
    for projection in PROJECTIONS:
        for role, docs in (await read_db.documents(projection)).items():
            counts[f"{projection}.{role}"] = len(docs)
    return counts
