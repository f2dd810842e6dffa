"""One stored event reaches the projections two ways: live as a Kafka record (CloudEvents
headers), and from the write service's feed (rebuilds, gap healing). Both must give the same
Event, or a rebuilt projection would differ from the live one."""

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from services.read.adapters.records import decode
from services.read.adapters.write_api import to_event
from services.read.application.ports import Delivered
from services.read.projections.base import Event
from shared.contracts.cloudevents import to_headers
from shared.contracts.envelope import EventMetadata, RecordedEvent

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
    return decode(
        Delivered("orders", 0, 9, str(event.stream_id).encode(), value, tuple(headers), 0)
    )


def fed(event: RecordedEvent, *, trusted: bool) -> Event:
    """The event as `GET /events` serves it (the stored metadata, actor included)."""
    row: dict[str, Any] = orjson.loads(orjson.dumps(event.model_dump(mode="json")))
    return to_event(row, trusted=trusted)


@pytest.mark.parametrize("actor", [ACTOR, None])
def test_a_record_and_a_feed_row_of_one_event_are_the_same_event(actor: Any) -> None:
    event = stored(EventMetadata(correlation_id="c-1", **({"actor": actor} if actor else {})))
    subject = actor["subject"] if actor else None
    assert live(event, subject) == fed(event, trusted=True) == fed(event, trusted=False)
    assert live(event, subject).actor == subject
