"""What the relay sends is what the CloudEvents mapping of the stored event says: its read from
the store gives the same parts as the mapping of a RecordedEvent, and its two ways of sending
(batches it builds, or one record at a time when the producer's instrumentation traces them)
give the same records."""

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from services.write.adapters import kafka
from services.write.adapters.kafka import KafkaPublisher
from services.write.adapters.postgres import PostgresEventStore
from services.write.application.handlers import CommandContext
from services.write.settings import WriteSettings
from shared.contracts.cloudevents import OutgoingEvent, outgoing
from shared.contracts.envelope import START, EventMetadata
from shared.contracts.personal import SEALED_EVENT_TYPES, is_sealed
from tests.history import Shape, write_history
from tests.integration.personal import place, register
from tests.kafka_utils import Record, read_records

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CTX = CommandContext(
    metadata=EventMetadata(
        correlation_id="c-1",
        causation_id="e-0",
        traceparent=TRACEPARENT,
        actor={"subject": "clerk", "client_id": "shop"},
    )
)
# Rows as only an older writer, or a hand, would leave them: no metadata, an actor without a
# subject, a time on the second, text that JSON must escape, numbers of every kind.
ODD_ROWS = [
    ({"name": 'Zoë "Q" \\ \n\t\u0001 €', "email": "z@x.io"}, {}, datetime(2026, 3, 4, 5, 6, 7)),
    ({"n": 1.5, "big": 12345678901234, "neg": -3, "e": 1e-7, "deep": {"a": [1, {"b": None}]}},
     {"actor": {"client_id": "shop"}, "correlation_id": ""}, datetime(1999, 12, 31, 23, 59, 59, 1)),
]  # fmt: skip


async def insert_odd_rows(store: PostgresEventStore) -> None:
    for data, metadata, recorded_at in ODD_ROWS:
        await store.pool.execute(
            "INSERT INTO events (event_id, stream_type, stream_id, version, event_type,"
            " schema_version, data, metadata, recorded_at)"
            " VALUES ($1, 'customer', $2, 1, 'CustomerRegistered', 1, $3, $4, $5)",
            uuid.uuid4(),
            uuid.uuid4(),
            data,
            metadata,
            recorded_at.replace(tzinfo=UTC),
        )


async def test_the_relay_reads_each_event_as_the_mapping_of_the_recorded_event_makes_it(
    store: PostgresEventStore,
) -> None:
    await write_history(store, Shape(customers=3, adds=2), context=CTX)
    await insert_odd_rows(store)
    recorded = await store.read_all(START, 1000)
    read = await store.read_outgoing(START, 1000)
    assert read == [outgoing(event) for event in recorded]
    assert read[-2].time == "2026-03-04T05:06:07Z" and read[-1].time.endswith(":59.000001Z")
    assert (read[0].correlation_id, read[0].actor) == ("c-1", "clerk")
    # from a position on, and a cursor, as republishing and the relay read
    later = await store.read_outgoing(read[2].cursor, 3, min_position=read[4].position)
    assert later == read[4:7]
    assert await store.count_outgoing(read[2].cursor) == len(read) - 3


def own_topics(settings: WriteSettings) -> WriteSettings:
    suffix = uuid.uuid4().hex[:10]
    topics = {f"{name}_topic": f"{name}.{suffix}" for name in ("customers", "orders", "stock")}
    return settings.model_copy(update={**topics, "relay_marker_topic": f"marker.{suffix}"})


async def sent_records(
    settings: WriteSettings, events: list[OutgoingEvent], batches: int
) -> list[Record]:
    publisher = KafkaPublisher(settings)
    await publisher.start()
    try:
        size = -(-len(events) // batches)
        for start in range(0, len(events), size):
            await publisher.publish(events[start : start + size])
    finally:
        await publisher.stop()
    topics = [settings.customers_topic, settings.orders_topic]
    return await read_records(settings.kafka_bootstrap_servers, topics, expected=len(events))


Seen = tuple[str, int, int, str, bytes, tuple[tuple[str, str], ...]]


def as_consumers_see(records: list[Record]) -> list[Seen]:
    """Each record without its topic's name (each run has its own), in offset order."""
    return [
        (r.topic.split(".")[0], r.partition, r.offset, r.key, r.value, r.header_list)
        for r in records
    ]


async def test_records_sent_one_at_a_time_equal_the_records_sent_in_batches(
    store: PostgresEventStore, write_settings: WriteSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await write_history(store, Shape(customers=6, adds=3), context=CTX)
    await insert_odd_rows(store)
    events = await store.read_outgoing(START, 1000)
    batched = await sent_records(own_topics(write_settings), events, batches=3)
    # as when the producer's instrumentation traces each send and writes its traceparent
    monkeypatch.setattr(kafka, "producer_writes_traceparent", lambda: True)
    one_by_one = await sent_records(own_topics(write_settings), events, batches=3)
    assert len(batched) == len(events)
    untraced = [
        (*seen[:5], tuple(h for h in seen[5] if h[0] != "traceparent"))
        for seen in as_consumers_see(batched)
    ]
    assert untraced == as_consumers_see(one_by_one)
    by_id = {r.headers["ce_id"]: r for r in batched}
    for event in events:  # untraced, the record carries the command's stored traceparent
        assert by_id[event.event_id].headers.get("traceparent") == event.traceparent
        assert by_id[event.event_id].value == event.data


async def test_the_relay_sends_personal_values_sealed_as_stored(
    store: PostgresEventStore, write_settings: WriteSettings
) -> None:
    customer = await register(store, "Sam.Secret@Example.com", name="Sam Secret")
    await place(store, customer)
    events = await store.read_outgoing(START, 1000)
    records = await sent_records(own_topics(write_settings), events, batches=1)
    assert len(records) == 2
    for record in records:
        value = orjson.loads(record.value)
        for clear in (b"Sam", b"Example.com", b"Secr", b"Lyon", b"69001"):
            assert clear not in record.value
        event_type = record.headers["ce_type"]
        SEALED_EVENT_TYPES[event_type].model_validate(value)  # the topic's schema holds
    by_type = {r.headers["ce_subject"]: orjson.loads(r.value) for r in records}
    assert is_sealed(by_type[str(customer)]["email"])
