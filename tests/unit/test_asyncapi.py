import json
from pathlib import Path

from shared.contracts.asyncapi import document, render
from shared.contracts.events import EVENT_TYPES

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
