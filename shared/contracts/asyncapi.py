"""The AsyncAPI 3 document of the event topics, generated from the contracts.

python -m shared.contracts.asyncapi > shared/contracts/asyncapi.json
"""

import json
import sys
from typing import Any, Literal

from pydantic.json_schema import models_json_schema

from shared.contracts.events import CUSTOMER_ERASED, EVENT_TYPES
from shared.contracts.personal import PERSONAL_FIELDS, SEALED_EVENT_TYPES

TOPICS = {"customer": "customers.events", "order": "orders.events", "stock": "stock.events"}
REF = "#/components/schemas/{model}"

HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0, Kafka binary content mode",
    "required": ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_subject", "ce_time"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "format": "uuid", "description": "event id"},
        "ce_type": {"type": "string", "description": "event type, e.g. OrderPlaced"},
        "ce_source": {"type": "string", "description": "the producing service"},
        "ce_subject": {"type": "string", "format": "uuid", "description": "stream id"},
        "ce_time": {"type": "string", "format": "date-time", "description": "recorded at"},
        "content-type": {"type": "string", "const": "application/json"},
        "ce_streamversion": {"type": "string", "description": "1-based version in the stream"},
        "ce_position": {"type": "string", "description": "global position in the event store"},
        "ce_schemaversion": {"type": "string", "description": "schema version of the data"},
        "ce_streamtype": {"type": "string", "enum": sorted(TOPICS)},
        "ce_correlationid": {"type": "string"},
        "ce_causationid": {"type": "string"},
        "ce_actor": {
            "type": "string",
            "description": "who asked for the event: the subject (`sub`) of the command's "
            "access token; absent for events recorded before access control",
        },
        "traceparent": {
            "type": "string",
            "description": "W3C Trace Context of the command that produced the event (with "
            "tracing on, the record's send span in that command's trace)",
            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$",
        },
    },
}

DECRYPT = (
    "To read it, ask the write service: `GET /events/{event_id}/personal-data` (the event id "
    "is the record's `ce_id`), with a token holding the scope `ordering:pii`, answers the clear "
    "values by field path; every call is audited. Once the customer is erased it answers 410 "
    "Gone: the key is destroyed and the value can never be read again."
)
ERASED = (
    "The customer (the record's `ce_subject`) was erased: their key is destroyed, so no "
    "personal value sealed under it can be opened again, and the decrypt endpoint answers 410 "
    "for their events. Consumers must purge their own copies of that customer's personal data "
    "(`fields`: names, emails, street, city and postal code of their orders' addresses) and "
    "keep none they opened before. Identifiers, totals, statuses and the country stay."
)


def document() -> dict[str, Any]:
    """The whole AsyncAPI document as a JSON-ready dict."""
    mode: Literal["serialization"] = "serialization"
    # The wire form: each personal field sealed (or clear in records from before sealing).
    models = [(cls, mode) for cls in SEALED_EVENT_TYPES.values()]
    _, schemas = models_json_schema(models, ref_template=REF)
    components: dict[str, Any] = dict(schemas.get("$defs", {}))
    components["CloudEventHeaders"] = HEADERS
    mark_personal_fields(components)
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for stream_type, address in TOPICS.items():
        channel = f"{stream_type}Events"
        names = [n for n, cls in EVENT_TYPES.items() if cls.stream_type == stream_type]
        channels[channel] = {
            "address": address,
            "description": f"Every event of the {stream_type} streams, keyed by stream id.",
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        }
        operations[f"publish{stream_type.title()}Events"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
        }
        for name in names:
            messages[name] = {
                "name": name,
                "title": name,
                "contentType": "application/json",
                "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
                "payload": {"$ref": REF.format(model=name)},
                "bindings": {"kafka": {"key": {"type": "string", "format": "uuid"}}},
                "x-schema-version": EVENT_TYPES[name].schema_version,
                **_message_notes(name),
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Ordering events",
            "version": "1.0.0",
            "description": "Events of the ordering write service, published in commit order. "
            "Personal values (names, emails, the street, city and postal code of addresses) "
            "travel sealed, as `EncryptedValue` objects marked `x-personal-data`; the "
            "customer's `CustomerErased` tells consumers to purge what they kept of them.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }


def mark_personal_fields(schemas: dict[str, Any]) -> None:
    """Describe, in place, each personal field of the events' schemas: sealed, how to open it,
    and the clear form that only records from before sealing carry."""
    schemas["EncryptedValue"]["description"] += " " + DECRYPT
    for event_type, paths in PERSONAL_FIELDS.items():
        for path in paths:
            head, _, tail = path.partition(".")
            owner = schemas[event_type]
            if tail:  # a nested field: its own (sealed) component schema holds it
                ref = owner["properties"][head]["$ref"]
                owner, head = schemas[ref.rsplit("/", 1)[1]], tail
            owner["properties"][head] = _personal(owner["properties"][head], path)


def _personal(field: dict[str, Any], path: str) -> dict[str, Any]:
    sealed, clear = field["anyOf"]
    if sealed != {"$ref": REF.format(model="EncryptedValue")}:
        raise ValueError(f"{path}: its wire form is not EncryptedValue | the clear value")
    legacy = {
        **clear,
        "deprecated": True,
        "description": "the clear value, only in records published before sealing existed",
    }
    return {
        "title": field["title"],
        "description": f"Personal data (`{path}`), sealed under the customer's key. " + DECRYPT,
        "x-personal-data": True,
        "anyOf": [sealed, legacy],
    }


def _message_notes(event_type: str) -> dict[str, Any]:
    if event_type == CUSTOMER_ERASED:
        return {"summary": "A customer was erased.", "description": ERASED}
    paths = PERSONAL_FIELDS.get(event_type)
    if not paths:
        return {}
    fields = ", ".join(f"`{p}`" for p in paths)
    note = f"Holds personal data ({fields}), each value sealed (`EncryptedValue`). " + DECRYPT
    return {"description": note, "x-personal-data": True}


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
