"""Who may do what on the write API, over HTTP against the real service and the test issuer:
tokens that are not good enough, staff scopes, and customers limited to their own data."""

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from deploy.local.stack import LocalIssuer, free_port
from tests.auth import ALL_SCOPES, AUDIENCE, another_key, bearer, forge, token
from tests.e2e.test_write_api import ADDRESS, assert_problem, register
from tests.services import RunningService, run_service

ITEM = {"sku": "SKU-1", "name": "Widget", "quantity": 1, "unit_price": "10.00"}
Route = tuple[str, str, dict[str, Any] | None]  # method, path, body


def order_body(customer_id: str) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "items": [ITEM],
        "shipping_address": ADDRESS,
        "currency": "EUR",
    }


def secured_routes(customer_id: str, order_id: str) -> dict[str, Route]:
    """Every route that needs a token, by its path template, on an existing customer and order."""
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    return {
        "/customers": ("POST", "/customers", {"name": "Ada", "email": email}),
        "/customers/{customer_id}/rename": (
            "POST",
            f"/customers/{customer_id}/rename",
            {"name": "Bo"},
        ),
        "/customers/{customer_id}/change-email": (
            "POST",
            f"/customers/{customer_id}/change-email",
            {"email": email},
        ),
        "/orders": ("POST", "/orders", order_body(customer_id)),
        "/orders/{order_id}/items": ("POST", f"/orders/{order_id}/items", ITEM),
        "/orders/{order_id}/items/{sku}": ("DELETE", f"/orders/{order_id}/items/SKU-1", None),
        "/orders/{order_id}/confirm": ("POST", f"/orders/{order_id}/confirm", None),
        "/orders/{order_id}/ship": (
            "POST",
            f"/orders/{order_id}/ship",
            {"carrier": "UPS", "tracking_number": "1Z9"},
        ),
        "/orders/{order_id}/cancel": ("POST", f"/orders/{order_id}/cancel", None),
        "/stock/{sku}/receipts": ("POST", "/stock/SKU-1/receipts", {"quantity": 1}),
        "/stock/{sku}/adjustments": (
            "POST",
            "/stock/SKU-1/adjustments",
            {"quantity": 1, "reason": "count"},
        ),
        "/streams/{stream_id}/events": ("GET", f"/streams/{order_id}/events", None),
        "/events": ("GET", "/events", None),
        "/events/head": ("GET", "/events/head", None),
        "/processes": ("GET", "/processes", None),
        "/processes/{order_id}": ("GET", f"/processes/{order_id}", None),
        "/processes/{order_id}/retry": ("POST", f"/processes/{order_id}/retry", None),
        "/customers/{customer_id}/erasure": ("POST", f"/customers/{customer_id}/erasure", None),
        "/erasures/{customer_id}": ("GET", f"/erasures/{customer_id}", None),
        "/events/{event_id}/personal-data": ("GET", f"/events/{order_id}/personal-data", None),
        "/personal-data/keys": ("POST", "/personal-data/keys", {"customer_ids": [customer_id]}),
    }


def refused_tokens(issuer: LocalIssuer) -> dict[str, str]:
    """Tokens with every scope and one defect each."""
    now = int(time.time())
    everything = " ".join(ALL_SCOPES)
    claims = {"iss": issuer.url, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "scope": everything}
    return {
        "another key": forge(issuer, key=another_key(), scope=everything),
        "alg none": jwt.encode(claims, None, algorithm="none"),  # type: ignore[arg-type]
        "HMAC": forge(
            issuer, key="a-shared-secret-of-32-bytes-long!", algorithm="HS256", scope=everything
        ),
        "expired": forge(issuer, exp=now - 600, scope=everything),
        "another audience": forge(issuer, aud="payments", scope=everything),
        "another issuer": forge(issuer, iss="https://issuer.example.com", scope=everything),
    }


@pytest.fixture
async def anonymous(write_service: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=write_service.url, timeout=30) as http:
        yield http


async def placed_order(client: httpx.AsyncClient, customer_id: str) -> str:
    response = await client.post("/orders", json=order_body(customer_id))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def send(http: httpx.AsyncClient, route: Route, **headers: str) -> httpx.Response:
    method, path, body = route
    return await http.request(method, path, json=body, headers=headers)


async def test_every_secured_route_answers_401_without_a_good_token(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    customer_id = await register(client)
    order_id = await placed_order(client, customer_id)
    routes = secured_routes(customer_id, order_id)
    document = (await anonymous.get("/openapi.json")).json()
    documented = {
        p for p, ops in document["paths"].items() for op in ops.values() if "security" in op
    }
    assert documented == set(routes)
    tokens = {"no token": None, **refused_tokens(issuer)}
    for template, route in routes.items():
        for name, value in tokens.items():
            response = await send(anonymous, route, **(bearer(value) if value else {}))
            assert_problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer "), (template, name)
    control = forge(issuer, scope=" ".join(ALL_SCOPES))  # the same forgery, without a defect
    assert (await anonymous.get("/events/head", headers=bearer(control))).status_code == 200
    history = (await client.get(f"/streams/{order_id}/events")).json()["events"]
    assert len(history) == 1  # nothing refused was appended


async def test_authentication_comes_before_anything_the_request_holds(
    anonymous: httpx.AsyncClient,
) -> None:
    for method, path, body in [
        ("POST", "/customers", {"name": ""}),
        ("POST", "/orders/not-a-uuid/confirm", None),
        ("GET", "/events?after=garbage", None),
    ]:
        response = await anonymous.request(method, path, json=body)
        assert response.status_code == 401, (path, response.text)


async def test_health_answers_without_a_token(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/health/live")).status_code == 200
    assert (await anonymous.get("/health/ready")).status_code == 200
    assert (await anonymous.get("/metrics")).status_code == 200  # open unless asked otherwise


def test_metrics_need_ordering_operate_where_the_deployment_asks(
    write_service: RunningService, issuer: LocalIssuer, tmp_path: Path
) -> None:
    port = free_port()
    env = {**write_service.env, "WRITE_PORT": str(port), "RELAY_ENABLED": "false"}
    with run_service(
        "write", {**env, "AUTH_METRICS_REQUIRED": "true"}, port, tmp_path / "w.log"
    ) as guarded:
        metrics = f"{guarded.url}/metrics"
        assert httpx.get(metrics).status_code == 401
        query_only = bearer(token(issuer, ("ordering:query",)))
        assert httpx.get(metrics, headers=query_only).status_code == 403
        operator = bearer(token(issuer, ("ordering:operate",)))
        assert "eventstore_head_position" in httpx.get(metrics, headers=operator).text
        assert httpx.get(f"{guarded.url}/health/ready").status_code == 200


async def test_a_token_without_ordering_command_sends_no_command(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, issuer: LocalIssuer
) -> None:
    customer_id = await register(client)
    order_id = await placed_order(client, customer_id)
    reader = bearer(token(issuer, ("ordering:query",)))
    for template, route in secured_routes(customer_id, order_id).items():
        response = await send(anonymous, route, **reader)
        assert_problem(response, 403)
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"], template


async def test_a_customer_changes_their_own_profile_and_orders(
    client: httpx.AsyncClient, write_service: RunningService, issuer: LocalIssuer
) -> None:
    ada = await register(client)
    subject = f"ada-{ada[:8]}"
    headers = bearer(token(issuer, customer=ada, subject=subject))
    async with httpx.AsyncClient(base_url=write_service.url, headers=headers) as as_ada:
        order_id = await placed_order(as_ada, ada)
        extra = {**ITEM, "sku": "SKU-2"}
        assert (await as_ada.post(f"/orders/{order_id}/items", json=extra)).status_code == 200
        assert (await as_ada.delete(f"/orders/{order_id}/items/SKU-2")).status_code == 200
        assert_problem(await as_ada.post(f"/orders/{order_id}/confirm"), 403)
        ship = {"carrier": "UPS", "tracking_number": "1Z9"}
        assert_problem(await as_ada.post(f"/orders/{order_id}/ship", json=ship), 403)
        assert (await as_ada.post(f"/orders/{order_id}/cancel")).status_code == 200
        assert (await as_ada.post(f"/customers/{ada}/rename", json={"name": "Ada L"})).is_success
        email = {"email": f"{uuid.uuid4().hex[:8]}@example.com"}
        assert (await as_ada.post(f"/customers/{ada}/change-email", json=email)).is_success
        new = {"name": "Eve", "email": f"{uuid.uuid4().hex[:8]}@example.com"}
        assert_problem(await as_ada.post("/customers", json=new), 403)
        for path in ("/events", "/events/head", f"/streams/{order_id}/events"):
            assert_problem(await as_ada.get(path), 403)
    history = (await client.get(f"/streams/{order_id}/events")).json()["events"]
    assert [e["event_type"] for e in history][-1] == "OrderCancelled"
    actor = {"subject": subject, "client_id": "dev", "customer_id": ada}
    assert all(event["metadata"]["actor"] == actor for event in history)


async def test_another_customers_data_answers_404_as_if_it_did_not_exist(
    client: httpx.AsyncClient, write_service: RunningService, issuer: LocalIssuer
) -> None:
    bob = await register(client)
    bobs_order = await placed_order(client, bob)
    nobody, no_order = str(uuid.uuid4()), str(uuid.uuid4())
    headers = bearer(token(issuer, customer=uuid.uuid4(), subject="ada"))
    async with httpx.AsyncClient(base_url=write_service.url, headers=headers) as as_ada:
        for customer in (bob, nobody):
            assert_problem(await as_ada.post("/orders", json=order_body(customer)), 404)
            renamed = await as_ada.post(f"/customers/{customer}/rename", json={"name": "X"})
            assert assert_problem(renamed, 404)["detail"] == f"customer {customer} does not exist"
            email = {"email": "x@example.com"}
            changed = await as_ada.post(f"/customers/{customer}/change-email", json=email)
            assert_problem(changed, 404)
        for order in (bobs_order, no_order):
            added = await as_ada.post(
                f"/orders/{order}/items", json=ITEM, headers={"If-Match": '"9"'}
            )
            assert assert_problem(added, 404)["detail"] == f"order {order} does not exist"
            assert_problem(await as_ada.delete(f"/orders/{order}/items/SKU-1"), 404)
            assert_problem(await as_ada.post(f"/orders/{order}/cancel"), 404)
    assert len((await client.get(f"/streams/{bobs_order}/events")).json()["events"]) == 1
    assert len((await client.get(f"/streams/{bob}/events")).json()["events"]) == 1


async def test_an_idempotency_key_is_its_callers_own(
    client: httpx.AsyncClient, write_service: RunningService, issuer: LocalIssuer
) -> None:
    ada, bob = await register(client), await register(client)
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    as_ada = bearer(token(issuer, customer=ada, subject=f"ada-{ada}"))
    as_bob = bearer(token(issuer, customer=bob, subject=f"bob-{bob}"))
    async with httpx.AsyncClient(base_url=write_service.url) as http:
        first = await http.post("/orders", json=order_body(ada), headers={**as_ada, **key})
        assert first.status_code == 201, first.text
        again = await http.post("/orders", json=order_body(ada), headers={**as_ada, **key})
        assert (again.json(), again.headers["idempotent-replayed"]) == (first.json(), "true")
        # Bob's replay of Ada's request is a command of his own: not Ada's order
        replayed = await http.post("/orders", json=order_body(ada), headers={**as_bob, **key})
        assert "idempotent-replayed" not in replayed.headers
        assert_problem(replayed, 404)
    order_id = first.json()["id"]
    clerks = [bearer(token(issuer, subject=name)) for name in ("clerk-1", "clerk-2")]
    path = f"/orders/{order_id}/items"
    versions = [
        (await client.post(path, json=ITEM, headers={**c, **key})).json()["version"] for c in clerks
    ]
    assert versions == [2, 3]  # the same key and body from another caller ran again


async def test_the_longest_subject_and_key_fit_the_store(
    client: httpx.AsyncClient, write_service: RunningService, issuer: LocalIssuer
) -> None:
    customer_id = await register(client)
    caller = bearer(forge(issuer, sub="s" * 5000, scope="ordering:command"))
    key = {"Idempotency-Key": "k" * 200}
    async with httpx.AsyncClient(base_url=write_service.url, headers=caller) as http:
        first = await http.post("/orders", json=order_body(customer_id), headers=key)
        assert first.status_code == 201, first.text
        again = await http.post("/orders", json=order_body(customer_id), headers=key)
        assert (again.json(), again.headers["idempotent-replayed"]) == (first.json(), "true")
