"""The read side's one event codec: a Kafka record or a row of the write service's feed in, the
projections' `Event` out, its data checked against (and upcast to) the current contract.

Live records, dead letters replayed, the rebuild's pages and gap healing all come through here,
so an event reaches the projections the same way whichever path brought it. It is an adapter:
both inputs are wire formats (CloudEvents headers and JSON bytes, the feed's JSON rows).

The contract checked is the wire form (`SEALED_EVENT_TYPES`): each personal value sealed, or, in
records written before sealing existed, the clear value it replaced. Values are opened later, in
one place for every path (application/personal.py), under their customer's key.

Two shortcuts, both giving what the full check would give:
- a record of the current schema version is validated from its bytes directly (no dict first);
- a `trusted` feed row (the event store's own, served by the write service, which validated its
  data against this very contract before storing it) of the current schema version is taken as
  it stands: the stored data is the contract's own serialization, so checking it again would
  give it back unchanged. Older schema versions are always upcast and checked.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from shared.contracts.cloudevents import MissingHeader, parse_time
from shared.contracts.events import CUSTOMER, FULFILMENT, ORDER, STOCK
from shared.contracts.personal import SEALED_EVENT_TYPES
from shared.contracts.serialization import EventSerializer, UnknownEventType

from ..application.ports import Delivered, Undecodable, UnknownType
from ..projections.base import Event

SERIALIZER = EventSerializer(SEALED_EVENT_TYPES)
# The write service's own bookkeeping (its fulfilment process's decisions): in its log, never
# published, no projection's business. Their feed rows are passed over, neither events of an
# unknown type nor undecodable.
INTERNAL_STREAM_TYPES = frozenset({FULFILMENT})


def from_record(record: Delivered) -> Event:
    """The event carried by a Kafka record; raises Undecodable or UnknownType."""
    try:
        # Only the headers an event is made of are decoded (a record carries about fifteen);
        # a name given twice counts by its last value, as from_headers counts it.
        headers = dict(record.headers)
        event_type = _required(headers, "ce_type")
        _required(headers, "ce_specversion")
        return Event(
            event_id=_required(headers, "ce_id"),
            stream_type=_optional(headers, "ce_streamtype") or _stream_type(record.topic),
            stream_id=_required(headers, "ce_subject"),
            version=int(_optional(headers, "ce_streamversion") or ""),
            event_type=event_type,
            position=int(_optional(headers, "ce_position") or "0"),
            recorded_at=parse_time(_required(headers, "ce_time")),
            data=_from_bytes(
                event_type,
                int(_optional(headers, "ce_schemaversion") or "1"),
                record.value or b"",
            ),
            actor=_optional(headers, "ce_actor"),
            traceparent=_optional(headers, "traceparent"),
        )
    except (MissingHeader, KeyError, ValueError) as exc:
        if isinstance(exc, Undecodable | UnknownType):
            raise
        raise Undecodable(f"cannot decode record: {exc!r}") from exc


def _optional(headers: Mapping[str, bytes], name: str) -> str | None:
    """A header's text (None when absent or empty)."""
    value = headers.get(name)
    if not value:
        return None
    return value.decode("utf-8", "replace")


def _required(headers: Mapping[str, bytes], name: str) -> str:
    value = headers.get(name)
    if value is None:
        raise MissingHeader(name)
    return value.decode("utf-8", "replace")


def from_row(row: Mapping[str, Any], *, trusted: bool = False) -> Event:
    """The event of a feed row (`GET /events`, `GET /streams/{id}/events`); raises Undecodable
    or UnknownType."""
    try:
        event_type, schema, data = row["event_type"], int(row["schema_version"]), row["data"]
        if not (trusted and SERIALIZER.is_current(event_type, schema)):
            data = _checked(event_type, schema, data)
        return Event(
            event_id=row["event_id"],
            stream_type=row["stream_type"],
            stream_id=row["stream_id"],
            version=row["version"],
            event_type=event_type,
            position=row["position"],
            recorded_at=parse_time(row["recorded_at"]),
            data=data,
            actor=actor_of(row.get("metadata")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, Undecodable | UnknownType):
            raise
        raise Undecodable(f"cannot decode feed row: {exc!r}") from exc


def internal(row: Mapping[str, Any]) -> bool:
    """A feed row of one of the write service's internal streams."""
    return row.get("stream_type") in INTERNAL_STREAM_TYPES


@dataclass
class Rows:
    """Feed rows decoded: their events, and the rows passed over (internal streams, and events
    of types this version does not know, whose types are in `unknown`)."""

    events: list[Event] = field(default_factory=list)
    passed_over: int = 0
    unknown: list[str] = field(default_factory=list)


def from_rows(rows: Iterable[Mapping[str, Any]], *, trusted: bool = False) -> Rows:
    """The events of a page of the log (`GET /events`); raises Undecodable."""
    decoded = Rows()
    for row in rows:
        if internal(row):
            decoded.passed_over += 1
            continue
        try:
            decoded.events.append(from_row(row, trusted=trusted))
        except UnknownType as exc:  # skipped, as the live path skips them, and counted
            decoded.passed_over += 1
            decoded.unknown.append(str(exc))
    return decoded


def actor_of(metadata: Any) -> str | None:
    """The subject of a feed row's `metadata.actor`: what the live record's `ce_actor` holds."""
    actor = metadata.get("actor") if isinstance(metadata, dict) else None
    subject = actor.get("subject") if isinstance(actor, dict) else None
    return str(subject) if subject else None


def _from_bytes(event_type: str, schema: int, raw: bytes) -> dict[str, Any]:
    """A record's data, checked; events of the current schema version straight from bytes."""
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


def _checked(event_type: str, schema: int, data: Any) -> dict[str, Any]:
    """Data checked against (and upcast to) the current contract."""
    if not isinstance(data, dict):
        raise Undecodable(f"the data of {event_type} is not a JSON object")
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


def _stream_type(topic: str) -> str:
    """The stream type of a record without its `ce_streamtype` header, from its topic's name."""
    for stream_type in (CUSTOMER, STOCK):
        if topic.startswith(stream_type):
            return stream_type
    return ORDER
