"""The read service's OpenAPI document: every answer described, with a schema (no server needed:
the document is built from the routes)."""

from typing import Any

import pytest

from services.read.entrypoints.app import create_app
from services.read.settings import ReadSettings
from shared.plumbing.http import PROBLEM_JSON

Doc = dict[str, Any]
PROBLEM = {"$ref": "#/components/schemas/Problem"}
# Every route but these reads MongoDB, so may answer 503 when it is unavailable.
WITHOUT_MONGODB = {("/health/live", "get"), ("/metrics", "get")}
SINGLE_DOCUMENTS = {
    ("/orders/{order_id}", "get"),
    ("/customers/{customer_id}", "get"),
    ("/stock/{sku}", "get"),
}

# An app that checks tokens (creating it fetches nothing from the issuer).
WITH_AUTH: dict[str, Any] = {
    "auth_issuer": "https://issuer.example.com",
    "auth_audience": "ordering",
}


@pytest.fixture(scope="module")
def document() -> Doc:
    openapi: Doc = create_app(ReadSettings(**WITH_AUTH)).openapi()
    return openapi


def operations(document: Doc) -> list[tuple[str, str, Doc]]:
    return [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def test_every_success_has_a_schema(document: Doc) -> None:
    for path, method, operation in operations(document):
        answers = operation["responses"]
        ok = answers["200"] if "200" in answers else answers["202"]  # 202: a rebuild started
        media = "text/plain" if path == "/metrics" else "application/json"
        assert list(ok["content"]) == [media], (path, method)
        schema = ok["content"][media]["schema"]
        if media == "application/json":
            name = schema["$ref"].rsplit("/", 1)[1]  # a model of schemas.py, never `{}`
            assert document["components"]["schemas"][name]["properties"], (path, name)
        else:
            assert schema == {"type": "string"}


def test_answers_are_described_field_by_field(document: Doc) -> None:
    schemas = document["components"]["schemas"]
    order = schemas["Order"]
    assert order["additionalProperties"] is False
    assert set(order["required"]) >= {"id", "version", "items", "total", "customer_name"}
    assert order["properties"]["total"]["type"] == "string"  # money as a string
    assert order["properties"]["placed_at"]["format"] == "date-time"
    nullable = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    for field in ("customer_name", "carrier", "tracking_number", "cancel_reason"):
        assert {k: v for k, v in order["properties"][field].items() if k != "title"} == nullable
    top = schemas["TopProducts"]["properties"]
    assert {"products", "from", "to"} == set(top)
    ready = schemas["Ready"]["properties"]
    assert ready["status"]["const"] == "ready"
    assert ready["paused"]["items"] == {"type": "string"}  # paused is ready, and listed


def test_errors_are_documented_where_they_occur(document: Doc) -> None:
    for path, method, operation in operations(document):
        answers = operation["responses"]
        problems = {s for s, a in answers.items() if PROBLEM_JSON in a.get("content", {})}
        for status in problems:
            assert answers[status]["content"][PROBLEM_JSON]["schema"] == PROBLEM
        if (path, method) not in WITHOUT_MONGODB:
            assert "503" in problems, (path, method)
        if operation.get("parameters"):
            assert "422" in problems, (path, method)
        if (path, method) in SINGLE_DOCUMENTS:
            assert {"304", "404"} <= set(answers), (path, method)
            assert set(answers["304"]["headers"]) == {"ETag", "Cache-Control"}
            assert "content" not in answers["304"]
            assert "ETag" in answers["200"]["headers"]
    order = document["paths"]["/orders/{order_id}"]["get"]["responses"]
    assert "Retry-After" in order["503"]["headers"]
    assert "min_version" in order["503"]["description"]
    assert "If-None-Match" in {
        p["name"] for p in document["paths"]["/orders/{order_id}"]["get"]["parameters"]
    }
    lists = [
        "/customers",
        "/customers/{customer_id}/orders",
        "/stats/daily",
        "/stats/top-products",
        "/stock",
    ]
    for path in lists:
        assert "Cache-Control" in document["paths"][path]["get"]["responses"]["200"]["headers"]


OPEN = {("/health/live", "get"), ("/health/ready", "get"), ("/metrics", "get")}
FOR_CUSTOMERS = {
    ("/orders/{order_id}", "get"),
    ("/customers/{customer_id}", "get"),
    ("/customers/{customer_id}/orders", "get"),
    ("/customers", "get"),
}


def scopes(operation: Doc) -> set[str]:
    return {scope for need in operation.get("security", []) for scope in need["bearerAuth"]}


def test_every_route_but_health_and_metrics_names_its_permission(document: Doc) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, method, operation in operations(document):
        if (path, method) in OPEN:
            assert "security" not in operation and "401" not in operation["responses"]
            continue
        assert {"401", "403"} <= set(operation["responses"]), (path, method)
        assert ("x-customer-tokens" in operation) == ((path, method) in FOR_CUSTOMERS)
        if path.startswith(("/projections/", "/dead-letters")):
            assert scopes(operation) == {"ordering:operate"}, path
        elif path.startswith("/erasures/"):
            assert scopes(operation) == {"ordering:erase", "ordering:operate"}, path
        elif path == "/projections":
            assert scopes(operation) == {"ordering:query", "ordering:operate"}
        else:
            assert scopes(operation) == {"ordering:query"}, path
    assert "404" in document["paths"]["/customers/{customer_id}/orders"]["get"]["responses"]


def test_metrics_name_their_permission_when_a_token_is_required() -> None:
    guarded = create_app(ReadSettings(**WITH_AUTH, auth_metrics_required=True)).openapi()
    operation = guarded["paths"]["/metrics"]["get"]
    assert scopes(operation) == {"ordering:operate"}
    assert {"200", "401", "403", "503"} <= set(operation["responses"])


def integer_schemas(schema: Doc) -> list[Doc]:
    """The integer schemas in a parameter's schema (`anyOf` with null when it is optional)."""
    found = [schema] if schema.get("type") == "integer" else []
    return found + [s for option in schema.get("anyOf", []) for s in integer_schemas(option)]


def test_every_integer_parameter_is_bounded(document: Doc) -> None:
    # Past its maximum a number is a 422 at once, never a wait for what cannot come.
    bounded = {}
    for path, _, operation in operations(document):
        for parameter in operation.get("parameters", []):
            for schema in integer_schemas(parameter["schema"]):
                assert "maximum" in schema and "minimum" in schema, (path, parameter["name"])
                bounded[path, parameter["name"]] = schema["maximum"]
    assert bounded[("/orders/{order_id}", "min_version")] == 2**31 - 1  # a stream's versions
    assert bounded[("/orders/{order_id}", "wait_ms")] == 2**63 - 1  # capped, not refused
    assert bounded[("/stock", "available_below")] == 2**63 - 1  # BSON's largest integer
    assert {name for _, name in bounded} == {"min_version", "wait_ms", "limit", "available_below"}


def test_every_documented_header_has_a_schema(document: Doc) -> None:
    for path, method, operation in operations(document):
        for status, answer in operation["responses"].items():
            for name, header in answer.get("headers", {}).items():
                assert isinstance(header, dict) and "schema" in header, (path, method, status, name)
