"""Erasure, disclosure and data keys through the write API, on the real service process over
real PostgreSQL and Kafka: receipts and their idempotency, what an erased customer is refused,
who may open personal data and the keys, and what GET /erasures says without a read side (with
one: test_erasure_read_side.py)."""

import asyncio
import base64
import uuid
from typing import Any

import asyncpg
import httpx

from deploy.local.stack import LocalIssuer
from tests.auth import bearer, client_token, token
from tests.e2e.test_write_api import ADDRESS, assert_problem
from tests.services import RunningService

Doc = dict[str, Any]
ERASED_TYPE = "urn:ordering:problem:customer-erased"


async def register(client: httpx.AsyncClient, email: str | None = None) -> tuple[str, str]:
    email = email or f"ada.{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post("/customers", json={"name": "Ada Lovelace", "email": email})
    assert response.status_code == 201, response.text
    return str(response.json()["id"]), email


def order_body(customer_id: str) -> Doc:
    line = {"sku": "SKU-1", "name": "Widget", "quantity": 1, "unit_price": "10.00"}
    return {
        "customer_id": customer_id,
        "items": [line],
        "shipping_address": ADDRESS,
        "currency": "EUR",
    }


async def place(client: httpx.AsyncClient, customer_id: str) -> str:
    response = await client.post("/orders", json=order_body(customer_id))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def events_of(client: httpx.AsyncClient, stream_id: str) -> list[Doc]:
    response = await client.get(f"/streams/{stream_id}/events")
    assert response.status_code == 200, response.text
    events: list[Doc] = response.json()["events"]
    return events


async def erase(client: httpx.AsyncClient, customer_id: str, **headers: str) -> httpx.Response:
    return await client.post(f"/customers/{customer_id}/erasure", headers=headers)


async def test_an_erasure_answers_its_receipt_and_the_same_receipt_again(
    client: httpx.AsyncClient,
) -> None:
    customer_id, email = await register(client)
    first = await erase(client, customer_id)
    assert first.status_code == 200, first.text
    assert first.headers["location"] == f"/erasures/{customer_id}"
    receipt = first.json()
    erased = (await events_of(client, customer_id))[-1]
    assert receipt == {
        "customer_id": customer_id,
        "erased_at": receipt["erased_at"],
        "event_id": erased["event_id"],
        "position": erased["position"],
        "fields": erased["data"]["fields"],
        "key_destroyed": True,
        "claims_released": 1,
        "requested_by": "test",
    }
    assert erased["event_type"] == "CustomerErased"
    again = await erase(client, customer_id)
    assert (again.status_code, again.json()) == (200, receipt)
    assert len(await events_of(client, customer_id)) == 2  # nothing appended again
    assert email not in first.text


async def test_erasures_at_once_answer_one_receipt(client: httpx.AsyncClient) -> None:
    customer_id, _ = await register(client)
    answers = await asyncio.gather(*(erase(client, customer_id) for _ in range(6)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    kinds = [e["event_type"] for e in await events_of(client, customer_id)]
    assert kinds == ["CustomerRegistered", "CustomerErased"]


async def test_an_erased_customer_is_refused_what_is_personal_and_their_email_is_free(
    client: httpx.AsyncClient,
) -> None:
    customer_id, email = await register(client)
    order_id = await place(client, customer_id)
    assert (await erase(client, customer_id)).status_code == 200
    refused = [
        await client.post(f"/customers/{customer_id}/rename", json={"name": "Bo Peep"}),
        await client.post(
            f"/customers/{customer_id}/change-email", json={"email": "bo.peep@example.com"}
        ),
        await client.post("/orders", json=order_body(customer_id)),
    ]
    for response in refused:
        problem = assert_problem(response, 409)
        assert problem["type"] == ERASED_TYPE
        assert "Bo Peep" not in response.text and "bo.peep" not in response.text
    # the orders they had still move on: nothing personal is written by that
    assert (await client.post(f"/orders/{order_id}/confirm")).status_code == 200
    assert (await client.post(f"/orders/{order_id}/cancel", json={})).status_code == 200
    again, _ = await register(client, email.upper())
    assert again != customer_id


async def test_personal_data_opens_with_ordering_pii_and_is_gone_after_the_erasure(
    client: httpx.AsyncClient, write_service: RunningService, issuer: LocalIssuer
) -> None:
    customer_id, email = await register(client)
    order_id = await place(client, customer_id)
    registered = (await events_of(client, customer_id))[0]["event_id"]
    placed = (await events_of(client, order_id))[0]["event_id"]
    opened = await client.get(f"/events/{registered}/personal-data")
    assert opened.status_code == 200, opened.text
    assert opened.headers["cache-control"] == "no-store"
    assert opened.json() == {
        "event_id": registered,
        "event_type": "CustomerRegistered",
        "customer_id": customer_id,
        "fields": {"name": "Ada Lovelace", "email": email},
    }
    address = (await client.get(f"/events/{placed}/personal-data")).json()["fields"]
    assert address == {
        "shipping_address.line1": ADDRESS["line1"],
        "shipping_address.city": ADDRESS["city"],
        "shipping_address.postal_code": ADDRESS["postal_code"],
    }
    assert (await client.post(f"/orders/{order_id}/confirm")).status_code == 200
    confirmed = (await events_of(client, order_id))[1]["event_id"]
    assert (await client.get(f"/events/{confirmed}/personal-data")).json()["fields"] == {}
    assert_problem(await client.get(f"/events/{uuid.uuid4()}/personal-data"), 404)
    without = bearer(token(issuer, ("ordering:command", "ordering:events", "ordering:erase")))
    assert_problem(await client.get(f"/events/{registered}/personal-data", headers=without), 403)

    assert (await erase(client, customer_id)).status_code == 200
    gone = await client.get(f"/events/{registered}/personal-data")
    assert assert_problem(gone, 410)["type"] == ERASED_TYPE
    assert gone.headers["cache-control"] == "no-store"
    assert email not in gone.text and "Ada" not in gone.text
    # both answers audited (the 403 never reached it), with field names and no value
    audit = await disclosures(write_service, registered)
    assert len(audit) == 2 and audit[0][0] != audit[1][0]
    assert sorted(audit[0][1]) == ["email", "name"]
    logged = write_service.log.read_text()  # each line is flushed as it is written
    assert email not in logged and "Lovelace" not in logged and ADDRESS["line1"] not in logged


async def disclosures(write_service: RunningService, event_id: str) -> list[tuple[str, Any]]:
    """The audit rows of an event's disclosures, oldest first: (outcome, fields)."""
    conn = await asyncpg.connect(write_service.env["DATABASE_URL"])
    try:
        rows = await conn.fetch(
            "SELECT outcome, fields FROM personal_data_disclosures WHERE event_id = $1 ORDER BY at",
            uuid.UUID(event_id),
        )
    finally:
        await conn.close()
    return [(row["outcome"], row["fields"]) for row in rows]


async def test_a_customer_erases_themselves_and_nobody_else(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    ada, _ = await register(client)
    bob, _ = await register(client)
    as_ada = bearer(token(issuer, customer=ada, subject="ada"))
    assert_problem(await erase(client, bob, **as_ada), 404)
    assert_problem(await erase(client, str(uuid.uuid4()), **as_ada), 404)
    commands_only = bearer(token(issuer, ("ordering:command",)))
    assert_problem(await erase(client, bob, **commands_only), 403)
    mine = await erase(client, ada, **as_ada)
    assert (mine.status_code, mine.json()["requested_by"]) == (200, "ada")
    assert_problem(await client.get(f"/erasures/{ada}", headers=as_ada), 403)
    assert (await client.get(f"/customers/{bob}/erasure")).status_code == 405


async def test_data_keys_are_for_the_read_services_client(
    client: httpx.AsyncClient, write_service: RunningService, issuer: LocalIssuer
) -> None:
    live, _ = await register(client)
    erased, _ = await register(client)
    assert (await erase(client, erased)).status_code == 200
    nobody = str(uuid.uuid4())
    body = {"customer_ids": [live, erased, nobody]}
    staff = bearer(token(issuer, ("ordering:command", "ordering:pii", "ordering:erase")))
    assert_problem(await client.post("/personal-data/keys", json=body, headers=staff), 403)
    reader = bearer(client_token(write_service.env))  # the read service's own client
    found = await client.post("/personal-data/keys", json=body, headers=reader)
    assert found.status_code == 200, found.text
    assert found.headers["cache-control"] == "no-store"
    keys = found.json()
    assert (list(keys["keys"]), keys["erased"], keys["unknown"]) == ([live], [erased], [nobody])
    assert len(base64.b64decode(keys["keys"][live])) == 32
    too_many = {"customer_ids": [str(uuid.uuid4()) for _ in range(501)]}
    invalid = await client.post("/personal-data/keys", json=too_many, headers=reader)
    assert_problem(invalid, 422)
    unauthenticated = await client.post(
        "/personal-data/keys", content=b"{not json", headers={"Authorization": ""}
    )
    assert_problem(unauthenticated, 401)  # before anything the body would answer


async def test_the_erasure_says_what_holds_without_a_read_side(client: httpx.AsyncClient) -> None:
    customer_id, _ = await register(client)
    assert_problem(await client.get(f"/erasures/{customer_id}"), 404)
    receipt = (await erase(client, customer_id)).json()
    state = await client.get(f"/erasures/{customer_id}")
    assert state.status_code == 200, state.text
    assert state.json() == {
        **receipt,
        "key_present": False,
        "claims_held": 0,
        "projections": None,
        "read_side": "unavailable",
    }
