"""The write API's answers match what its OpenAPI document says of them."""

import uuid
from datetime import datetime
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker

from deploy.local.stack import LocalIssuer
from tests.auth import bearer, token
from tests.e2e.test_write_api import ADDRESS, register


def _date_time(value: object) -> bool:
    # jsonschema checks date-time only with an optional package; RFC 3339 asks for a zone.
    return not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None


FORMATS = FormatChecker()
FORMATS.checks("date-time", raises=ValueError)(_date_time)


class Documented:
    """Validates answers against the schema their route documents for their status."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.checked: list[tuple[str, str, int]] = []

    def check(self, response: httpx.Response, template: str) -> Any:
        method = response.request.method.lower()
        responses = self.document["paths"][template][method]["responses"]
        documented = responses.get(str(response.status_code))
        assert documented is not None, f"{method} {template}: {response.status_code} undocumented"
        media = response.headers["content-type"].split(";")[0]
        assert media in documented["content"], f"{method} {template}: {media} undocumented"
        schema = documented["content"][media]["schema"]
        assert schema != {}, f"{method} {template}: {response.status_code} has an empty schema"
        body = response.json() if "json" in media else response.text
        # The document's components travel with the schema, so `#/components/...` resolves.
        whole = {**schema, "components": self.document["components"]}
        Draft202012Validator(whole, format_checker=FORMATS).validate(body)
        self.checked.append((method, template, response.status_code))
        return body


async def test_a_command_sequence_answers_as_documented(client: httpx.AsyncClient) -> None:
    doc = Documented((await client.get("/openapi.json")).json())
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    customer = doc.check(
        await client.post("/customers", json={"name": "Ada", "email": email}), "/customers"
    )
    cid = customer["id"]
    doc.check(
        await client.post(f"/customers/{cid}/rename", json={"name": "Bo"}),
        "/customers/{customer_id}/rename",
    )
    doc.check(
        await client.post(f"/customers/{cid}/change-email", json={"email": f"new-{email}"}),
        "/customers/{customer_id}/change-email",
    )
    line = {"sku": "SKU-1", "name": "Widget", "quantity": 2, "unit_price": "10.00"}
    place = {"customer_id": cid, "items": [line], "shipping_address": ADDRESS, "currency": "EUR"}
    traced = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    order = doc.check(await client.post("/orders", json=place, headers=traced), "/orders")
    oid = order["id"]
    added = {**line, "sku": "SKU-2", "unit_price": "1.50"}
    doc.check(await client.post(f"/orders/{oid}/items", json=added), "/orders/{order_id}/items")
    doc.check(await client.delete(f"/orders/{oid}/items/SKU-2"), "/orders/{order_id}/items/{sku}")
    doc.check(await client.post(f"/orders/{oid}/confirm"), "/orders/{order_id}/confirm")
    ship = {"carrier": "UPS", "tracking_number": "1Z999"}
    doc.check(await client.post(f"/orders/{oid}/ship", json=ship), "/orders/{order_id}/ship")
    await check_reads(client, doc, oid)
    assert len(doc.checked) == 14


async def check_reads(client: httpx.AsyncClient, doc: Documented, order_id: str) -> None:
    history = doc.check(
        await client.get(f"/streams/{order_id}/events"), "/streams/{stream_id}/events"
    )
    assert len(history["events"]) == 5
    assert history["events"][0]["metadata"]["traceparent"].startswith("00-4bf9")
    page = doc.check(await client.get("/events", params={"limit": 5}), "/events")
    assert len(page["events"]) == 5 and page["has_more"]
    doc.check(await client.get("/events/head"), "/events/head")
    doc.check(await client.get("/health/ready"), "/health/ready")
    doc.check(await client.get("/health/live"), "/health/live")
    metrics = doc.check(await client.get("/metrics"), "/metrics")
    assert "eventstore_head_position" in metrics


async def test_problems_answer_as_documented(
    client: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    doc = Documented((await client.get("/openapi.json")).json())
    anonymous = {"Authorization": ""}  # over the client's own: no token at all
    query_only = bearer(token(issuer, ("ordering:query",)))
    somebody_else = bearer(token(issuer, customer=uuid.uuid4()))
    customer_id = await register(client)
    place = {
        "customer_id": customer_id,
        "items": [{"sku": "SKU-1", "name": "Widget", "quantity": 1, "unit_price": "1.00"}],
        "shipping_address": ADDRESS,
        "currency": "EUR",
    }
    unknown = str(uuid.uuid4())
    taken = {"name": "Ada", "email": f"{uuid.uuid4().hex[:8]}@example.com"}
    assert (await client.post("/customers", json=taken)).status_code == 201
    cases = [
        (await client.post("/customers", json=taken), "/customers", 409),
        (await client.get(f"/streams/{unknown}/events"), "/streams/{stream_id}/events", 404),
        (await client.get("/events", params={"after": "garbage"}), "/events", 422),
        (await client.post(f"/orders/{unknown}/confirm"), "/orders/{order_id}/confirm", 404),
        (
            await client.post(f"/orders/{unknown}/confirm", headers=anonymous),
            "/orders/{order_id}/confirm",
            401,
        ),
        (await client.get("/events", headers=query_only), "/events", 403),
        (await client.post("/orders", json=place, headers=somebody_else), "/orders", 404),
        (await client.post("/customers", json=taken, headers=query_only), "/customers", 403),
        (
            await client.post(f"/customers/{customer_id}/rename", json={"name": ""}),
            "/customers/{customer_id}/rename",
            422,
        ),
        (
            await client.post(
                f"/customers/{customer_id}/rename", json={"name": "X"}, headers={"If-Match": '"9"'}
            ),
            "/customers/{customer_id}/rename",
            412,
        ),
    ]
    for response, template, status in cases:
        assert response.status_code == status, response.text
        doc.check(response, template)
