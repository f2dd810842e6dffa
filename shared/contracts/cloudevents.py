"""CloudEvents 1.0 in Kafka binary content mode: the envelope in `ce_*` headers, data as value.

One mapping, `headers_of`, over an `OutgoingEvent`: the relay reads those straight from the
store, and `to_headers` makes one of a RecordedEvent (tests, tools, the read side's replays).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from shared.contracts.envelope import Cursor, RecordedEvent
from shared.contracts.serialization import dumps

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]
_SPEC_VERSION, _CONTENT_TYPE = SPEC_VERSION.encode(), CONTENT_TYPE.encode()


class OutgoingEvent(NamedTuple):
    """A stored event as its record carries it: the envelope's values as text, the data as
    JSON bytes, and the event's place in the log."""

    transaction_id: int
    position: int
    recorded_at: float  # seconds since the epoch
    event_id: str
    stream_type: str
    stream_id: str  # the record's key and its `ce_subject`
    version: int
    event_type: str
    schema_version: int
    time: str  # `recorded_at` as `ce_time` carries it: RFC 3339 in UTC, see `ce_time`
    data: bytes  # the record's value: the event's data as compact JSON
    correlation_id: str | None
    causation_id: str | None
    traceparent: str | None
    actor: str | None  # the actor's subject only: client and customer ids stay in the store

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.transaction_id, self.position)


def ce_time(moment: datetime) -> str:
    """`2026-01-02T03:04:05.123456Z`, without the fraction when it is zero (as `isoformat`)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def outgoing(event: RecordedEvent) -> OutgoingEvent:
    """The record's parts of a RecordedEvent."""
    metadata = event.metadata
    return OutgoingEvent(
        transaction_id=event.transaction_id,
        position=event.position,
        recorded_at=event.recorded_at.timestamp(),
        event_id=str(event.event_id),
        stream_type=event.stream_type,
        stream_id=str(event.stream_id),
        version=event.version,
        event_type=event.event_type,
        schema_version=event.schema_version,
        time=ce_time(event.recorded_at),
        data=dumps(event.data),
        correlation_id=metadata.correlation_id,
        causation_id=metadata.causation_id,
        traceparent=metadata.traceparent,
        actor=(metadata.actor or {}).get("subject"),
    )


def headers_of(event: OutgoingEvent, *, source: str, traceparent: bool = True) -> Headers:
    """The Kafka record headers of one event (without its `traceparent` when the producer
    writes one itself)."""
    headers = [
        ("ce_specversion", _SPEC_VERSION),
        ("ce_id", event.event_id.encode()),
        ("ce_type", event.event_type.encode()),
        ("ce_source", source.encode()),
        ("ce_subject", event.stream_id.encode()),
        ("ce_time", event.time.encode()),
        ("content-type", _CONTENT_TYPE),
        ("ce_streamversion", b"%d" % event.version),
        ("ce_position", b"%d" % event.position),
        ("ce_schemaversion", b"%d" % event.schema_version),
        ("ce_streamtype", event.stream_type.encode()),
    ]
    if event.correlation_id:
        headers.append(("ce_correlationid", event.correlation_id.encode()))
    if event.causation_id:
        headers.append(("ce_causationid", event.causation_id.encode()))
    if traceparent and event.traceparent:
        headers.append(("traceparent", event.traceparent.encode()))
    if event.actor:  # who did it, for any consumer
        headers.append(("ce_actor", event.actor.encode()))
    return headers


def to_headers(event: RecordedEvent, *, source: str, traceparent: bool = True) -> Headers:
    """The Kafka record headers of one stored event (see `headers_of`)."""
    return headers_of(outgoing(event), source=source, traceparent=traceparent)


class MissingHeader(ValueError):
    """A required CloudEvents header is absent."""


def from_headers(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    """Decode the `ce_*` headers of a record into a dict keyed without the prefix."""
    found: dict[str, str] = {}
    for key, value in headers:
        text = value.decode("utf-8", errors="replace")
        if key.startswith("ce_"):
            found[key[3:]] = text
        elif key in ("content-type", "traceparent"):
            found[key] = text
    for required in ("specversion", "id", "type", "subject"):
        if required not in found:
            raise MissingHeader(f"ce_{required}")
    return found


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
