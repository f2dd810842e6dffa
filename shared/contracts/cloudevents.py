"""CloudEvents 1.0 in Kafka binary content mode: the envelope in `ce_*` headers, data as value."""

from collections.abc import Sequence
from datetime import UTC, datetime

from shared.contracts.envelope import RecordedEvent

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]


def to_headers(event: RecordedEvent, *, source: str, traceparent: bool = True) -> Headers:
    """The Kafka record headers of one stored event (without its `traceparent` when the
    producer writes one itself)."""
    recorded = event.recorded_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    headers = [
        ("ce_specversion", SPEC_VERSION),
        ("ce_id", str(event.event_id)),
        ("ce_type", event.event_type),
        ("ce_source", source),
        ("ce_subject", str(event.stream_id)),
        ("ce_time", recorded),
        ("content-type", CONTENT_TYPE),
        ("ce_streamversion", str(event.version)),
        ("ce_position", str(event.position)),
        ("ce_schemaversion", str(event.schema_version)),
        ("ce_streamtype", event.stream_type),
    ]
    if event.metadata.correlation_id:
        headers.append(("ce_correlationid", event.metadata.correlation_id))
    if event.metadata.causation_id:
        headers.append(("ce_causationid", event.metadata.causation_id))
    if traceparent and event.metadata.traceparent:
        headers.append(("traceparent", event.metadata.traceparent))
    actor = (event.metadata.actor or {}).get("subject")
    if actor:  # who did it, for any consumer; client and customer ids stay in the store
        headers.append(("ce_actor", actor))
    return [(key, value.encode()) for key, value in headers]


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
