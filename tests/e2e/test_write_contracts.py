"""The write API's input contracts end to end: whatever a client sends, a 4xx problem (never a
5xx), and each answer carries the request's correlation id."""

import copy
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from shared.contracts.envelope import MAX_POSITION, MAX_VERSION, Cursor
from tests.e2e.test_write_api import ADDRESS, assert_problem, new_order, register

ITEM = {"sku": "SKU-1", "name": "Widget", "quantity": 1, "unit_price": "10.00"}
VALID_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def refused(response: httpx.Response, status: int) -> dict[str, Any]:
    """A problem answer with `status`, traced by its correlation id."""
    assert response.headers.get("x-correlation-id"), response.headers
    return assert_problem(response, status)


def order_body(customer_id: str, **changes: Any) -> dict[str, Any]:
    body = {
        "customer_id": customer_id,
        "items": [dict(ITEM)],
        "shipping_address": dict(ADDRESS),
        "currency": "EUR",
    }
    return {**body, **changes}


def string_fields(body: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """The path of every string in a JSON body."""
    if isinstance(body, str):
        yield path
    elif isinstance(body, dict):
        for key, value in body.items():
            yield from string_fields(value, (*path, key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            yield from string_fields(value, (*path, index))


def with_value(body: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target: Any = changed
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return changed


def body_value(body: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    value: Any = body
    for part in path:
        value = value[part]
    return value


async def command_bodies(client: httpx.AsyncClient) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A valid body for every command that takes one, on an existing customer and order."""
    customer_id = await register(client)
    order_id = await new_order(client)
    yield "/customers", {"name": "Ada", "email": "ada@example.com"}
    yield f"/customers/{customer_id}/rename", {"name": "Ada"}
    yield f"/customers/{customer_id}/change-email", {"email": "ada@example.com"}
    yield "/orders", order_body(customer_id)
    yield f"/orders/{order_id}/items", dict(ITEM)
    yield f"/orders/{order_id}/ship", {"carrier": "UPS", "tracking_number": "1Z999"}
    yield f"/orders/{order_id}/cancel", {"reason": "changed my mind"}


async def test_a_nul_character_in_any_text_field_is_refused(client: httpx.AsyncClient) -> None:
    async for path, body in command_bodies(client):
        for field in string_fields(body):
            original = body_value(body, field)
            bad = with_value(body, field, original[:1] + "\u0000" + original[1:])
            refused(await client.post(path, json=bad), 422)
    order_id = await new_order(client)
    refused(await client.delete(f"/orders/{order_id}/items/SKU%00-1"), 422)


async def test_money_is_a_plain_decimal_string(client: httpx.AsyncClient) -> None:
    customer_id = await register(client)
    order_id = await new_order(client)
    for price in ["1e2", " 1.00 ", "+5.00", "٣.٠٠", 5, "-0.00", "1.", ".5", "1,00", None]:
        item = {**ITEM, "unit_price": price}
        refused(await client.post(f"/orders/{order_id}/items", json=item), 422)
        refused(await client.post("/orders", json=order_body(customer_id, items=[item])), 422)


async def test_a_quantity_is_a_json_integer(client: httpx.AsyncClient) -> None:
    customer_id = await register(client)
    order_id = await new_order(client)
    for quantity in ["2", True, 1.5, 0, 1_000_001]:
        item = {**ITEM, "quantity": quantity}
        refused(await client.post(f"/orders/{order_id}/items", json=item), 422)
        refused(await client.post("/orders", json=order_body(customer_id, items=[item])), 422)
    # a number with no fractional part is an integer to JSON Schema, as the document says
    whole = await client.post(f"/orders/{order_id}/items", json={**ITEM, "quantity": 2.0})
    assert whole.status_code == 200, whole.text


async def test_control_characters_in_names_and_emails_are_refused(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await register(client)
    order_id = await new_order(client)
    for char in ["\u0007", "\u001b", "\u007f", "\u0085", "\u009f"]:
        name, email = f"Ad{char}a", f"ad{char}a@example.com"
        cases = [
            ("/customers", {"name": name, "email": "ok@example.com"}),
            ("/customers", {"name": "Ada", "email": email}),
            (f"/customers/{customer_id}/rename", {"name": name}),
            (f"/customers/{customer_id}/change-email", {"email": email}),
            (f"/orders/{order_id}/items", {**ITEM, "name": name}),
        ]
        for path, body in cases:
            refused(await client.post(path, json=body), 422)


async def test_skus_and_currencies_outside_their_sets_are_refused(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await register(client)
    order_id = await new_order(client)
    for sku in ["a/b", "a b", "-lead", "é", "x" * 65, ""]:
        item = {**ITEM, "sku": sku}
        refused(await client.post(f"/orders/{order_id}/items", json=item), 422)
        refused(await client.post("/orders", json=order_body(customer_id, items=[item])), 422)
    for currency in ["ABC", "ZZZ", "eur", "XAU", "EURO", ""]:
        body = order_body(customer_id, currency=currency)
        refused(await client.post("/orders", json=body), 422)


async def test_a_sku_path_segment_follows_the_sku_pattern(client: httpx.AsyncClient) -> None:
    order_id = await new_order(client)
    for segment in ["%20", "%C3%A9", "-lead", "a%20b", "x" * 65]:
        refused(await client.delete(f"/orders/{order_id}/items/{segment}"), 422)
    refused(await client.delete(f"/orders/{order_id}/items/NOT-THERE"), 404)


async def test_a_tracking_number_longer_than_the_event_allows_is_refused(
    client: httpx.AsyncClient,
) -> None:
    order_id = await new_order(client)
    assert (await client.post(f"/orders/{order_id}/confirm")).status_code == 200
    ship = {"carrier": "UPS", "tracking_number": "1" * 101}
    refused(await client.post(f"/orders/{order_id}/ship", json=ship), 422)
    ship["tracking_number"] = "1" * 100
    assert (await client.post(f"/orders/{order_id}/ship", json=ship)).status_code == 200


async def last_metadata(client: httpx.AsyncClient, stream_id: str) -> dict[str, Any]:
    events = (await client.get(f"/streams/{stream_id}/events")).json()["events"]
    metadata: dict[str, Any] = events[-1]["metadata"]
    return metadata


async def test_an_invalid_traceparent_is_dropped_and_a_valid_one_kept(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await register(client)
    rename = f"/customers/{customer_id}/rename"
    for invalid in ["not-a-traceparent", "p3", VALID_TRACEPARENT.replace("-01", "-zz")]:
        response = await client.post(rename, json={"name": "Bo"}, headers={"traceparent": invalid})
        assert response.status_code == 200, response.text
        metadata = await last_metadata(client, customer_id)
        assert "traceparent" not in metadata
        assert metadata["correlation_id"] == response.headers["x-correlation-id"]
    response = await client.post(
        rename, json={"name": "Cy"}, headers={"traceparent": VALID_TRACEPARENT}
    )
    assert response.status_code == 200, response.text
    assert (await last_metadata(client, customer_id))["traceparent"] == VALID_TRACEPARENT


async def test_log_parameters_past_the_store_range_are_refused(client: httpx.AsyncClient) -> None:
    order_id = await new_order(client)
    stream = f"/streams/{order_id}/events"
    ok = await client.get(stream, params={"after_version": MAX_VERSION})
    assert ok.status_code == 200 and ok.json()["events"] == []
    for version in [MAX_VERSION + 1, 2**63, -1]:
        refused(await client.get(stream, params={"after_version": version}), 422)
    for limit in [0, 10_001, 2**63]:
        refused(await client.get(stream, params={"limit": limit}), 422)
        refused(await client.get("/events", params={"limit": limit}), 422)
    edge = Cursor(MAX_POSITION, MAX_POSITION).encode()
    assert (await client.get("/events", params={"after": edge})).status_code == 200
    for tx, position in [(MAX_POSITION + 1, 1), (1, MAX_POSITION + 1), (2**64, 1)]:
        cursor = Cursor(tx, position).encode()
        refused(await client.get("/events", params={"after": cursor}), 422)


async def test_a_chunked_body_over_the_limit_is_413(client: httpx.AsyncClient) -> None:
    async def two_megabytes() -> AsyncIterator[bytes]:
        for _ in range(32):
            yield b"x" * 65_536

    headers = {"content-type": "application/json"}
    response = await client.post("/customers", content=two_megabytes(), headers=headers)
    assert "content-length" not in response.request.headers
    refused(response, 413)


async def test_a_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    order_id = await new_order(client)
    for method, path, allowed in [
        ("PUT", "/customers", "POST"),
        ("GET", f"/orders/{order_id}/confirm", "POST"),
        ("POST", "/events", "GET"),
    ]:
        response = await client.request(method, path)
        refused(response, 405)
        assert response.headers["allow"] == allowed


async def test_a_line_or_total_past_the_maximum_is_a_business_rule(
    client: httpx.AsyncClient,
) -> None:
    customer_id = await register(client)
    order_id = await new_order(client)
    many = {**ITEM, "quantity": 1_000_000}
    refused(await client.post(f"/orders/{order_id}/items", json=many), 409)
    twice = order_body(customer_id, items=[many, {**ITEM, "quantity": 1}])
    refused(await client.post("/orders", json=twice), 409)
    dear = {**ITEM, "sku": "DEAR", "unit_price": "999999999999.99", "quantity": 2}
    refused(await client.post("/orders", json=order_body(customer_id, items=[dear])), 409)
    refused(await client.post(f"/orders/{order_id}/items", json={**dear, "quantity": 1}), 409)
    history = (await client.get(f"/streams/{order_id}/events")).json()["events"]
    assert [e["event_type"] for e in history] == ["OrderPlaced"]


async def test_every_refusal_carries_the_given_correlation_id(client: httpx.AsyncClient) -> None:
    cid = f"trace-{uuid.uuid4().hex}"
    response = await client.post(
        "/customers", json={"name": "\u0000"}, headers={"x-correlation-id": cid}
    )
    refused(response, 422)
    assert response.headers["x-correlation-id"] == cid
