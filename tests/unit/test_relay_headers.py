"""The CloudEvents mapping the relay sends: one mapping over an event's record parts, the same
for the parts the relay reads from the store and for those made of a RecordedEvent."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

from shared.contracts.cloudevents import ce_time, from_headers, headers_of, outgoing, to_headers
from shared.contracts.envelope import EventMetadata, RecordedEvent

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
EVENT = RecordedEvent(
    position=12,
    transaction_id=900,
    event_id=UUID("6c3cfffa-020f-4a1b-8de7-65abaf9439d2"),
    stream_type="order",
    stream_id=UUID("d306445b-523f-4e05-8260-ff3df57e0028"),
    version=4,
    event_type="OrderConfirmed",
    schema_version=2,
    data={"total": Decimal("2.50"), "note": "Zoë"},
    metadata=EventMetadata(
        correlation_id="c-1",
        causation_id="e-0",
        traceparent=TRACEPARENT,
        actor={"subject": "clerk", "client_id": "shop"},
    ),
    recorded_at=datetime(2026, 1, 2, 3, 4, 5, 60, tzinfo=UTC),
)


def test_the_headers_of_an_event_in_order_with_their_bytes() -> None:
    assert to_headers(EVENT, source="/ordering/write-service") == [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"6c3cfffa-020f-4a1b-8de7-65abaf9439d2"),
        ("ce_type", b"OrderConfirmed"),
        ("ce_source", b"/ordering/write-service"),
        ("ce_subject", b"d306445b-523f-4e05-8260-ff3df57e0028"),
        ("ce_time", b"2026-01-02T03:04:05.000060Z"),
        ("content-type", b"application/json"),
        ("ce_streamversion", b"4"),
        ("ce_position", b"12"),
        ("ce_schemaversion", b"2"),
        ("ce_streamtype", b"order"),
        ("ce_correlationid", b"c-1"),
        ("ce_causationid", b"e-0"),
        ("traceparent", TRACEPARENT.encode()),
        ("ce_actor", b"clerk"),
    ]


def test_the_record_parts_of_a_recorded_event() -> None:
    parts = outgoing(EVENT)
    assert parts.cursor == EVENT.cursor
    assert parts.recorded_at == EVENT.recorded_at.timestamp()
    assert parts.data == '{"total":"2.50","note":"Zoë"}'.encode()  # compact, decimals as text
    assert (parts.stream_id, parts.actor) == (str(EVENT.stream_id), "clerk")


def test_without_the_traceparent_when_the_producer_writes_its_own() -> None:
    names = [name for name, _ in headers_of(outgoing(EVENT), source="/s", traceparent=False)]
    assert "traceparent" not in names and "ce_actor" in names


def test_empty_or_absent_metadata_writes_no_header() -> None:
    bare = outgoing(EVENT.model_copy(update={"metadata": EventMetadata(correlation_id="")}))
    decoded = from_headers(headers_of(bare, source="/s"))
    assert not {"correlationid", "causationid", "traceparent", "actor"} & set(decoded)


def test_the_time_is_utc_with_a_fraction_only_when_there_is_one() -> None:
    paris = timezone(timedelta(hours=1))
    assert ce_time(datetime(2026, 1, 2, 4, 4, 5, tzinfo=paris)) == "2026-01-02T03:04:05Z"
    assert (
        ce_time(datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)) == "2026-01-02T03:04:05.120000Z"
    )
