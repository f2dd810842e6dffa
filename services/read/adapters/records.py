"""Kafka records to projection events: CloudEvents headers + JSON data, checked on the way in."""

from typing import Any

import orjson
from pydantic import ValidationError

from shared.contracts.cloudevents import MissingHeader, from_headers, parse_time
from shared.contracts.serialization import EventSerializer, UnknownEventType

from ..application.ports import Delivered, Undecodable, UnknownType
from ..projections.base import Event

SERIALIZER = EventSerializer()


def decode(record: Delivered) -> Event:
    """The event carried by a record; raises Undecodable or UnknownType."""
    try:
        ce = from_headers(record.headers)
        event_type = ce["type"]
        schema = int(ce.get("schemaversion", "1"))
        return Event(
            event_id=ce["id"],
            stream_type=ce.get("streamtype") or _stream_type(record.topic),
            stream_id=ce["subject"],
            version=int(ce.get("streamversion", "")),
            event_type=event_type,
            position=int(ce.get("position", "0")),
            recorded_at=parse_time(ce["time"]),
            data=_data(event_type, schema, record.value or b""),
            actor=ce.get("actor") or None,
            traceparent=ce.get("traceparent"),
        )
    except (MissingHeader, KeyError, ValueError) as exc:
        if isinstance(exc, Undecodable | UnknownType):
            raise
        raise Undecodable(f"cannot decode record: {exc!r}") from exc


def _data(event_type: str, schema: int, raw: bytes) -> dict[str, Any]:
    """A record's data checked against (and upcast to) the current contract; events of the
    current schema version are validated from their bytes directly (the common case)."""
    if SERIALIZER.is_current(event_type, schema):
        try:
            return SERIALIZER.to_data(SERIALIZER.from_json(event_type, raw))
        except ValidationError as exc:
            raise Undecodable(_invalid(event_type, exc)) from exc
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Undecodable(f"cannot decode record: {exc!r}") from exc
    if not isinstance(data, dict):
        raise Undecodable("the record's value is not a JSON object")
    return _checked(event_type, schema, data)


def _checked(event_type: str, schema: int, data: dict[str, Any]) -> dict[str, Any]:
    """Data checked against (and upcast to) the current contract."""
    try:
        model = SERIALIZER.from_data(event_type, schema, data)
    except UnknownEventType as exc:
        raise UnknownType(event_type) from exc
    except ValidationError as exc:
        raise Undecodable(_invalid(event_type, exc)) from exc
    return SERIALIZER.to_data(model)


def _invalid(event_type: str, exc: ValidationError) -> str:
    kinds = {error["type"] for error in exc.errors()}
    if "json_invalid" in kinds:
        return "cannot decode record: the value is not JSON"
    if "model_type" in kinds:
        return "the record's value is not a JSON object"
    return f"invalid {event_type} data: {exc.error_count()} errors"


def validated(event: Event, schema_version: int) -> Event:
    """The event with its data checked against (and upcast to) the current contract."""
    data = _checked(event.event_type, schema_version, event.data)
    return Event(**{**event.__dict__, "data": data})


def _stream_type(topic: str) -> str:
    return "customer" if topic.startswith("customer") else "order"
