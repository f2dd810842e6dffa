import base64
import re
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from shared.contracts.cloudevents import from_headers, to_headers
from shared.contracts.envelope import (
    MAX_POSITION,
    Cursor,
    EventMetadata,
    InvalidCursor,
    RecordedEvent,
)
from shared.contracts.events import CustomerRenamed
from shared.contracts.serialization import EventSerializer, UnknownEventType


def test_cursor_round_trip_and_rejects_garbage() -> None:
    cursor = Cursor(123456789, 42)
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ["", "zzz", "bm9wZQ", Cursor(-1, 2).encode()]:
        with pytest.raises(InvalidCursor):
            Cursor.decode(bad)


def _raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_cursor_refuses_numbers_the_store_cannot_take() -> None:
    """Past a bigint (positions, and transaction ids as the store reads them back) PostgreSQL
    would fail the query: such a cursor is invalid, not an error of the service."""
    edge = Cursor(MAX_POSITION, MAX_POSITION)
    assert Cursor.decode(edge.encode()) == edge
    too_big = [(MAX_POSITION + 1, 1), (1, MAX_POSITION + 1), (2**64, 1), (10**30, 10**30)]
    for tx, position in too_big:
        with pytest.raises(InvalidCursor):
            Cursor.decode(Cursor(tx, position).encode())
    for text in ["+1:2", " 1:2", "1_0:2", "١:2", "1:2:3", "1:", ":2", "0x1:2"]:
        with pytest.raises(InvalidCursor):
            Cursor.decode(_raw_cursor(text))


def test_upcaster_runs_for_old_schema_versions() -> None:
    class Renamed(CustomerRenamed):
        schema_version = 2

    serializer = EventSerializer(
        {"CustomerRenamed": Renamed},
        {("CustomerRenamed", 1): lambda data: {"name": data["full_name"]}},
    )
    event = serializer.from_data("CustomerRenamed", 1, {"full_name": "Ada"})
    assert event == Renamed(name="Ada")
    assert serializer.from_data("CustomerRenamed", 2, {"name": "Bo"}) == Renamed(name="Bo")
    with pytest.raises(UnknownEventType):
        serializer.from_data("Nope", 1, {})


def test_cloudevents_headers() -> None:
    event = RecordedEvent(
        position=7,
        transaction_id=900,
        event_id=uuid4(),
        stream_type="customer",
        stream_id=uuid4(),
        version=3,
        event_type="CustomerRenamed",
        schema_version=1,
        data={"name": "Ada"},
        metadata=EventMetadata(correlation_id="c-1", actor={"subject": "ada", "client_id": "shop"}),
        recorded_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    headers = to_headers(event, source="/test")
    decoded = from_headers(headers)
    assert decoded["specversion"] == "1.0"
    assert decoded["id"] == str(event.event_id)
    assert decoded["type"] == "CustomerRenamed"
    assert decoded["subject"] == str(event.stream_id)
    assert decoded["time"] == "2026-01-02T03:04:05Z"
    assert decoded["streamversion"] == "3"
    assert decoded["position"] == "7"
    assert decoded["schemaversion"] == "1"
    assert decoded["correlationid"] == "c-1"
    assert decoded["content-type"] == "application/json"
    assert decoded["actor"] == "ada"  # the subject only: the client id stays in the store
    assert "ce_clientid" not in dict(headers)
    anonymous = event.model_copy(update={"metadata": EventMetadata()})
    assert "actor" not in from_headers(to_headers(anonymous, source="/test"))
    # CloudEvents attribute names are lowercase alphanumeric (CloudEvents 1.0, "Naming")
    names = [key[3:] for key, _ in headers if key.startswith("ce_")]
    assert all(re.fullmatch(r"[a-z0-9]{1,20}", name) for name in names), names
