"""The AsyncAPI 3 document of the event topics, generated from the contracts.

python -m shared.contracts.asyncapi > shared/contracts/asyncapi.json
"""

import json
import sys
from typing import Any, Literal

from pydantic.json_schema import models_json_schema

from shared.contracts.events import EVENT_TYPES

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


def document() -> dict[str, Any]:
    """The whole AsyncAPI document as a JSON-ready dict."""
    mode: Literal["serialization"] = "serialization"
    models = [(cls, mode) for cls in EVENT_TYPES.values()]
    _, schemas = models_json_schema(models, ref_template=REF)
    components: dict[str, Any] = dict(schemas.get("$defs", {}))
    components["CloudEventHeaders"] = HEADERS
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
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Ordering events",
            "version": "1.0.0",
            "description": "Events of the ordering write service, published in commit order.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
