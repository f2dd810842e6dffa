"""Kafka records to projection events: CloudEvents headers + JSON data, checked on the way in."""

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
        data = orjson.loads(record.value or b"")
        if not isinstance(data, dict):
            raise Undecodable("the record's value is not a JSON object")
        event_type = ce["type"]
        version = int(ce.get("streamversion", ""))
        schema = int(ce.get("schemaversion", "1"))
        event = Event(
            event_id=ce["id"],
            stream_type=ce.get("streamtype") or _stream_type(record.topic),
            stream_id=ce["subject"],
            version=version,
            event_type=event_type,
            position=int(ce.get("position", "0")),
            recorded_at=parse_time(ce["time"]),
            data=data,
            actor=ce.get("actor") or None,
        )
    except (MissingHeader, KeyError, ValueError, orjson.JSONDecodeError) as exc:
        if isinstance(exc, Undecodable):
            raise
        raise Undecodable(f"cannot decode record: {exc!r}") from exc
    return validated(event, schema)


def validated(event: Event, schema_version: int) -> Event:
    """The event with its data checked against (and upcast to) the current contract."""
    try:
        model = SERIALIZER.from_data(event.event_type, schema_version, event.data)
    except UnknownEventType as exc:
        raise UnknownType(event.event_type) from exc
    except ValidationError as exc:
        raise Undecodable(f"invalid {event.event_type} data: {exc.error_count()} errors") from exc
    return Event(**{**event.__dict__, "data": SERIALIZER.to_data(model)})


def _stream_type(topic: str) -> str:
    return "customer" if topic.startswith("customer") else "order"
