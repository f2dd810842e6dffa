"""The write service's OpenAPI document: operation ids, problems per route, and links that
lead from a creation to every command that can follow it."""

import re
from typing import Any

import pytest

from services.write.entrypoints.app import create_app
from services.write.entrypoints.deps import IF_MATCH_PATTERN, parse_if_match
from services.write.entrypoints.problems import BadHeader
from services.write.settings import WriteSettings
from shared.contracts.events import SKU_PATTERN
from shared.plumbing.http import PROBLEM_JSON
from tests.auth import pii_settings

AUTH = {401, 403}
COMMAND = {409, 412, 422, 503} | AUTH
# (method, path) -> (operationId, the problem statuses it documents)
OPERATIONS: dict[tuple[str, str], tuple[str, set[int]]] = {
    ("post", "/customers"): ("registerCustomer", COMMAND | {413}),
    ("post", "/customers/{customer_id}/rename"): ("renameCustomer", COMMAND | {404, 413}),
    ("post", "/customers/{customer_id}/change-email"): (
        "changeCustomerEmail",
        COMMAND | {404, 413},
    ),
    ("post", "/orders"): ("placeOrder", COMMAND | {404, 413}),
    ("post", "/orders/{order_id}/items"): ("addOrderItem", COMMAND | {404, 413}),
    ("delete", "/orders/{order_id}/items/{sku}"): ("removeOrderItem", COMMAND | {404}),
    ("post", "/orders/{order_id}/confirm"): ("confirmOrder", COMMAND | {404, 413}),
    ("post", "/orders/{order_id}/ship"): ("shipOrder", COMMAND | {404, 413}),
    ("post", "/orders/{order_id}/cancel"): ("cancelOrder", COMMAND | {404, 413}),
    ("post", "/stock/{sku}/receipts"): ("receiveStock", COMMAND | {413}),
    ("post", "/stock/{sku}/adjustments"): ("adjustStock", COMMAND | {404, 413}),
    ("get", "/streams/{stream_id}/events"): ("getStreamEvents", {404, 422, 503} | AUTH),
    ("get", "/events"): ("getEvents", {422, 503} | AUTH),
    ("get", "/events/head"): ("getEventsHead", {503} | AUTH),
    ("get", "/processes"): ("listProcesses", {422, 503} | AUTH),
    ("get", "/processes/{order_id}"): ("getProcess", {404, 422, 503} | AUTH),
    ("post", "/processes/{order_id}/retry"): ("retryProcess", {404, 409, 422, 503} | AUTH),
    ("get", "/health/live"): ("getLive", set()),
    ("get", "/health/ready"): ("getReady", {503}),
    ("get", "/metrics"): ("getMetrics", set()),
}
# operationId -> the scope it needs, and whether a customer's token may call it too; an
# operation not named here is open.
SECURITY: dict[str, tuple[str, bool]] = {
    "registerCustomer": ("ordering:command", False),
    "renameCustomer": ("ordering:command", True),
    "changeCustomerEmail": ("ordering:command", True),
    "placeOrder": ("ordering:command", True),
    "addOrderItem": ("ordering:command", True),
    "removeOrderItem": ("ordering:command", True),
    "confirmOrder": ("ordering:command", False),
    "shipOrder": ("ordering:command", False),
    "cancelOrder": ("ordering:command", True),
    "receiveStock": ("ordering:command", False),
    "adjustStock": ("ordering:command", False),
    "getStreamEvents": ("ordering:events", False),
    "getEvents": ("ordering:events", False),
    "getEventsHead": ("ordering:events", False),
    "listProcesses": ("ordering:operate", False),
    "getProcess": ("ordering:operate", False),
    "retryProcess": ("ordering:operate", False),
}

# An app that checks tokens (creating it fetches nothing from the issuer).
WITH_AUTH: dict[str, Any] = {
    "auth_issuer": "https://issuer.example.com",
    "auth_audience": "ordering",
    **pii_settings(),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(WriteSettings(**WITH_AUTH)).openapi()


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every operation of the document by its operationId."""
    return {
        op["operationId"]: op for methods in document["paths"].values() for op in methods.values()
    }


def test_every_operation_has_its_id_and_documents_its_problems(document: dict[str, Any]) -> None:
    found = {(m, p) for p, methods in document["paths"].items() for m in methods}
    assert found == set(OPERATIONS)
    for (method, path), (operation_id, problems) in OPERATIONS.items():
        operation = document["paths"][path][method]
        assert operation["operationId"] == operation_id
        responses = operation["responses"]
        errors = {int(status) for status in responses if int(status) >= 400}
        assert errors == problems, operation_id
        for status in errors:
            schema = responses[str(status)]["content"][PROBLEM_JSON]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}
        if 503 in errors and path != "/health/ready":
            assert "Retry-After" in responses["503"]["headers"]


def test_every_operation_documents_its_security(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for operation_id, operation in operations(document).items():
        if operation_id not in SECURITY:
            assert "security" not in operation, operation_id
            assert not {"401", "403"} & set(operation["responses"]), operation_id
            continue
        scope, customers = SECURITY[operation_id]
        assert operation["security"] == [{"bearerAuth": [scope]}], operation_id
        assert ("x-customer-tokens" in operation) == customers, operation_id


def test_metrics_need_ordering_operate_where_the_deployment_asks() -> None:
    settings = WriteSettings(**WITH_AUTH, auth_metrics_required=True)
    metrics = create_app(settings).openapi()["paths"]["/metrics"]["get"]
    assert metrics["security"] == [{"bearerAuth": ["ordering:operate"]}]
    # with a token to check, an unreachable issuer is a 503, as on every secured route
    assert {"200", "401", "403", "503"} == set(metrics["responses"])


def test_every_success_has_a_schema(document: dict[str, Any]) -> None:
    for (method, path), (operation_id, _) in OPERATIONS.items():
        responses = document["paths"][path][method]["responses"]
        successes = [status for status in responses if status.startswith("2")]
        assert successes, operation_id
        for success in successes:
            content = responses[success]["content"]
            media = "text/plain" if path == "/metrics" else "application/json"
            assert list(content) == [media], operation_id
            assert content[media]["schema"] not in ({}, None), operation_id


def test_a_first_receipt_creates_and_later_ones_do_not(document: dict[str, Any]) -> None:
    responses = document["paths"]["/stock/{sku}/receipts"]["post"]["responses"]
    assert "Location" in responses["201"]["headers"]
    assert "Location" not in responses["200"]["headers"]
    sku = document["paths"]["/stock/{sku}/receipts"]["post"]["parameters"][0]
    assert (sku["name"], sku["schema"]["pattern"]) == ("sku", SKU_PATTERN)


def test_a_confirmation_says_when_to_retry_while_stock_is_pending(
    document: dict[str, Any],
) -> None:
    conflict = document["paths"]["/orders/{order_id}/confirm"]["post"]["responses"]["409"]
    assert "stock-pending" in conflict["description"]
    assert conflict["headers"]["Retry-After"]["schema"] == {"type": "integer"}


def links_of(document: dict[str, Any], path: str, status: str) -> dict[str, Any]:
    links: dict[str, Any] = document["paths"][path]["post"]["responses"][status]["links"]
    return links


def test_creations_link_to_every_follow_up(document: dict[str, Any]) -> None:
    targets = {link["operationId"] for link in links_of(document, "/customers", "201").values()}
    assert targets == {"renameCustomer", "changeCustomerEmail", "getStreamEvents", "placeOrder"}
    targets = {link["operationId"] for link in links_of(document, "/orders", "201").values()}
    assert targets == {
        "addOrderItem",
        "removeOrderItem",
        "confirmOrder",
        "shipOrder",
        "cancelOrder",
        "getStreamEvents",
    }
    place = links_of(document, "/customers", "201")["PlaceOrder"]
    assert place["requestBody"] == {"customer_id": "$response.body#/id"}


def test_every_link_names_parameters_its_target_has(document: dict[str, Any]) -> None:
    by_id = operations(document)
    schemas = document["components"]["schemas"]
    for path, methods in document["paths"].items():
        for operation in methods.values():
            for response in operation["responses"].values():
                for name, link in response.get("links", {}).items():
                    target = by_id[link["operationId"]]
                    declared = {f"{p['in']}.{p['name']}" for p in target.get("parameters", [])}
                    assert set(link.get("parameters", {})) <= declared, (path, name)
                    if "requestBody" in link:
                        ref = target["requestBody"]["content"]["application/json"]["schema"]
                        body = schemas[ref["$ref"].rsplit("/", 1)[-1]]
                        assert set(link["requestBody"]) <= set(body["properties"]), (path, name)


def test_the_documented_if_match_pattern_is_what_the_service_takes() -> None:
    for value in ['"3"', 'W/"3"', "3", "*", ' "12" ', '"3', "yesterday", '"1", "2"', '"-1"', "٣"]:
        try:
            parse_if_match(value)
            taken = True
        except BadHeader:
            taken = False
        assert bool(re.search(IF_MATCH_PATTERN, value)) == taken, value
