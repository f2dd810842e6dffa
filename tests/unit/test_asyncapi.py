import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jsonschema import Draft7Validator

from shared.contracts.asyncapi import document, render
from shared.contracts.events import CUSTOMER_ERASED, EVENT_TYPES
from shared.contracts.personal import ERASED_FIELDS, PERSONAL_FIELDS, is_sealed, new_data_key, seal

COMMITTED = Path(__file__).resolve().parents[2] / "shared" / "contracts" / "asyncapi.json"


def test_committed_document_is_up_to_date() -> None:
    regenerate = "python -m shared.contracts.asyncapi > shared/contracts/asyncapi.json"
    assert COMMITTED.read_text() == render(), f"out of date: {regenerate}"


def test_every_event_has_a_message_with_a_schema() -> None:
    doc = document()
    assert doc["asyncapi"].startswith("3.")
    schemas = doc["components"]["schemas"]
    for name in EVENT_TYPES:
        message = doc["components"]["messages"][name]
        assert message["payload"]["$ref"].endswith(f"/{name}")
        assert name in schemas
    refs = json.dumps(doc).count('"$ref"')
    assert refs > len(EVENT_TYPES)
    assert schemas["OrderLine"]["properties"]["unit_price"]["type"] == "string"


def payload_validator(doc: dict[str, Any], event_type: str) -> Draft7Validator:
    """A validator of one message's payload, resolving the document's own references."""
    schema = {"$ref": f"#/components/schemas/{event_type}", "components": doc["components"]}
    return Draft7Validator(schema)


CUSTOMER_ID = UUID("0b8f7a52-3c1e-4d0a-9c7e-0d5f8e8a6b11")
EVENT_ID = UUID("5f3c2a10-7d4b-4e21-8a6f-1c2b3d4e5f60")
PLACED = {
    "customer_id": str(CUSTOMER_ID),
    "items": [{"sku": "SKU-1", "name": "Mug", "quantity": 1, "unit_price": "4.50"}],
    "shipping_address": {
        "line1": "1 Main St",
        "city": "Lyon",
        "postal_code": "69001",
        "country": "FR",
    },
    "currency": "EUR",
    "total": "4.50",
}
REGISTERED = {"name": "Ada Lovelace", "email": "ada@example.com"}


def test_each_personal_field_is_sealed_and_says_how_to_open_it() -> None:
    schemas = document()["components"]["schemas"]
    assert schemas["EncryptedValue"]["x-personal-data"] is True
    for event_type, paths in PERSONAL_FIELDS.items():
        for path in paths:
            head, _, tail = path.partition(".")
            field = schemas[event_type]["properties"][head]
            if tail:
                field = schemas[field["$ref"].rsplit("/", 1)[1]]["properties"][tail]
            assert field["x-personal-data"] is True, path
            assert field["anyOf"][0] == {"$ref": "#/components/schemas/EncryptedValue"}
            assert field["anyOf"][1]["deprecated"] is True
            assert "GET /events/{event_id}/personal-data" in field["description"]
            assert "ordering:pii" in field["description"] and "410" in field["description"]
    address = schemas["SealedShippingAddress"]["properties"]["country"]
    assert address["type"] == "string" and "x-personal-data" not in address


@pytest.mark.parametrize(
    ("event_type", "data"), [("CustomerRegistered", REGISTERED), ("OrderPlaced", PLACED)]
)
def test_sealed_records_and_clear_ones_from_before_sealing_both_validate(
    event_type: str, data: dict[str, Any]
) -> None:
    validator = payload_validator(document(), event_type)
    cipher = AESGCM(new_data_key())
    sealed = seal(data, event_type, cipher, subject=CUSTOMER_ID, event_id=EVENT_ID)
    assert is_sealed(sealed.get("name") or sealed["shipping_address"]["city"])
    validator.validate(sealed)
    validator.validate(data)
    half_open = (
        {**sealed, "name": {"alg": "A256GCM", "iv": "short"}}
        if "name" in data
        else {**sealed, "shipping_address": {**sealed["shipping_address"], "city": {"ct": "x"}}}
    )
    assert not validator.is_valid(half_open)


def test_customer_erased_is_on_the_customer_topic_and_asks_consumers_to_purge() -> None:
    doc = document()
    channel = doc["channels"]["customerEvents"]
    assert channel["address"] == "customers.events"
    assert CUSTOMER_ERASED in channel["messages"]
    message = doc["components"]["messages"][CUSTOMER_ERASED]
    assert "must purge" in message["description"]
    payload_validator(doc, CUSTOMER_ERASED).validate(
        {"erased_at": "2026-01-02T03:04:05Z", "fields": list(ERASED_FIELDS)}
    )


def test_the_cloudevents_headers_carry_no_personal_data() -> None:
    doc = document()
    headers = doc["components"]["schemas"]["CloudEventHeaders"]
    assert "x-personal-data" not in json.dumps(headers)
    for message in doc["components"]["messages"].values():
        assert message["headers"] == {"$ref": "#/components/schemas/CloudEventHeaders"}
