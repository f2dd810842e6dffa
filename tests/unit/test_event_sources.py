"""One stored event reaches the projections two ways: live as a Kafka record (CloudEvents
headers), and from the write service's feed (rebuilds, gap healing). Both must give the same
Event, or a rebuilt projection would differ from the live one."""

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.read.adapters.codec import from_record, from_row
from services.read.application.ports import Delivered, Undecodable, UnknownType
from services.read.projections.base import Event
from shared.contracts.cloudevents import to_headers
from shared.contracts.envelope import EventMetadata, RecordedEvent
from shared.contracts.personal import new_data_key, seal

ACTOR = {"subject": "ada", "client_id": "shop", "customer_id": str(uuid.uuid4())}


def stored(metadata: EventMetadata) -> RecordedEvent:
    return RecordedEvent(
        position=42,
        transaction_id=7,
        event_id=uuid.uuid4(),
        stream_type="order",
        stream_id=uuid.uuid4(),
        version=3,
        event_type="OrderConfirmed",
        schema_version=1,
        data={},
        metadata=metadata,
        recorded_at=datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    )


def live(event: RecordedEvent, actor: str | None) -> Event:
    """The event as the relay publishes it: the actor's subject in `ce_actor`."""
    headers = [h for h in to_headers(event, source="/write") if h[0] != "ce_actor"]
    if actor is not None:
        headers.append(("ce_actor", actor.encode()))
    value = orjson.dumps(event.data)
    return from_record(
        Delivered("orders", 0, 9, str(event.stream_id).encode(), value, tuple(headers), 0)
    )


def fed(event: RecordedEvent, *, trusted: bool) -> Event:
    """The event as `GET /events` serves it (the stored metadata, actor included)."""
    row: dict[str, Any] = orjson.loads(orjson.dumps(event.model_dump(mode="json")))
    return from_row(row, trusted=trusted)


@pytest.mark.parametrize("actor", [ACTOR, None])
def test_a_record_and_a_feed_row_of_one_event_are_the_same_event(actor: Any) -> None:
    event = stored(EventMetadata(correlation_id="c-1", **({"actor": actor} if actor else {})))
    subject = actor["subject"] if actor else None
    assert live(event, subject) == fed(event, trusted=True) == fed(event, trusted=False)
    assert live(event, subject).actor == subject


@pytest.mark.parametrize("trusted", [True, False])
def test_a_feed_row_of_an_unknown_type_or_with_invalid_data_fails_as_a_record_would(
    trusted: bool,
) -> None:
    event = stored(EventMetadata())
    row: dict[str, Any] = orjson.loads(orjson.dumps(event.model_dump(mode="json")))
    with pytest.raises(UnknownType):
        from_row({**row, "event_type": "OrderTeleported"}, trusted=trusted)
    with pytest.raises(Undecodable):
        from_row({**row, "event_type": "CustomerRenamed", "data": {"name": ""}}, trusted=False)
    with pytest.raises(Undecodable):
        from_row({**row, "data": "not an object", "schema_version": 0}, trusted=trusted)
    with pytest.raises(Undecodable):
        from_row({k: v for k, v in row.items() if k != "version"}, trusted=trusted)


def registered(data: dict[str, Any]) -> RecordedEvent:
    return stored(EventMetadata()).model_copy(
        update={"stream_type": "customer", "event_type": "CustomerRegistered", "version": 1,
                "data": data}
    )  # fmt: skip


def sealed_registration() -> dict[str, Any]:
    clear = {"name": "Ada", "email": "ada@example.com"}
    key = AESGCM(new_data_key())
    return seal(clear, "CustomerRegistered", key, subject=uuid.uuid4(), event_id=uuid.uuid4())


@pytest.mark.parametrize(
    "data",
    [sealed_registration(), {"name": "Ada", "email": "ada@example.com"}],
    ids=["sealed", "clear, written before sealing"],
)
def test_records_and_feed_rows_carry_the_wire_form_sealed_or_clear(data: dict[str, Any]) -> None:
    event = registered(data)
    assert live(event, None).data == data
    assert fed(event, trusted=False).data == data == fed(event, trusted=True).data


@pytest.mark.parametrize(
    "value",
    [
        {"alg": "A128GCM", "iv": "AAAAAAAAAAAAAAAA", "ct": "A" * 24},
        {"alg": "A256GCM", "iv": "short", "ct": "A" * 24},
        {"alg": "A256GCM", "iv": "AAAAAAAAAAAAAAAA", "ct": "A" * 24, "key": "extra"},
        "",
    ],
)
def test_a_personal_value_neither_sealed_nor_a_valid_clear_value_is_undecodable(
    value: Any,
) -> None:
    event = registered({**sealed_registration(), "name": value})
    with pytest.raises(Undecodable):
        live(event, None)
    with pytest.raises(Undecodable):
        fed(event, trusted=False)
