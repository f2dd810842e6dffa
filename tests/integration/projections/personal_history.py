"""A history whose personal values are sealed, as the write service stores and publishes them:
two customers, their orders, a rename, a change of email, a SKU's stock, then the erasure of
the first customer, after which one of her orders is still cancelled and another shipped.

It is given as the read side gets it: the log's rows (`GET /events`) and the Kafka records, both
sealed; the same rows in the clear (what the projections showed before sealing); and a stand-in
of the write service's `POST /personal-data/keys` over the customers' keys, whose `erase` does
what the erasure does to a key.
"""

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.read.adapters.codec import from_record
from services.read.application.ports import Delivered
from services.read.projections.base import Event
from shared.contracts.cloudevents import to_headers
from shared.contracts.envelope import EventMetadata, RecordedEvent
from shared.contracts.events import (
    CustomerEmailChanged,
    CustomerErased,
    CustomerRegistered,
    CustomerRenamed,
    DomainEvent,
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    OrderShipped,
    ShippingAddress,
    StockReceived,
    stock_stream_id,
)
from shared.contracts.personal import ERASED_FIELDS, new_data_key, seal, subject_of
from tests.integration.projections.projecting import Doc, Route, log_routes

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
# What must be gone once Annabel is erased: every one of her values, wherever it was copied.
ANN_VALUES = ("Annabel", "Quill", "annabel", "quill", "QF1 2AB")
ANN_ADDRESS = ShippingAddress(
    line1="12 Quill Lane", city="Quillford", postal_code="QF1 2AB", country="GB"
)
BEN_ADDRESS = ShippingAddress(line1="3 Rowe St", city="Leeds", postal_code="LS1", country="GB")


def line(sku: str, quantity: int, price: str) -> OrderLine:
    return OrderLine(sku=sku, name=sku.title(), quantity=quantity, unit_price=Decimal(price))


def placed(customer: uuid.UUID, lines: list[OrderLine], address: ShippingAddress) -> OrderPlaced:
    total = sum((x.unit_price * x.quantity for x in lines), Decimal("0"))
    return OrderPlaced(
        customer_id=customer, items=lines, shipping_address=address, currency="GBP", total=total
    )


class KeysStandIn:
    """The write service's `POST /personal-data/keys`: a key per live customer, the erased
    ones listed; every request's ids kept."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self.keys = dict(keys)
        self.erased: set[str] = set()
        self.requests: list[list[str]] = []

    def erase(self, customer_id: str) -> None:
        self.keys.pop(customer_id, None)
        self.erased.add(customer_id)

    def answer(self, request: httpx.Request) -> httpx.Response:
        ids = orjson.loads(request.content)["customer_ids"]
        self.requests.append(ids)
        body = {
            "keys": {c: base64.b64encode(self.keys[c]).decode() for c in ids if c in self.keys},
            "erased": [c for c in ids if c in self.erased],
            "unknown": [c for c in ids if c not in self.keys and c not in self.erased],
        }
        return httpx.Response(200, content=orjson.dumps(body))


def write_service(rows: list[Doc], keys: KeysStandIn) -> httpx.MockTransport:
    """The write service's log and its keys route."""
    log: Route = log_routes(rows)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/personal-data/keys":
            return keys.answer(request)
        return log(request)

    return httpx.MockTransport(answer)


@dataclass
class PersonalHistory:
    """The history sealed (rows and records) and clear (rows), its customers' keys, the ids."""

    rows: list[Doc]
    clear_rows: list[Doc]
    records: list[Delivered]
    keys: dict[str, bytes]
    ann: str
    ben: str
    orders: list[str]
    erasure: int  # the index of the erasure's record

    def stand_in(self) -> KeysStandIn:
        """The keys route as it answers before the erasure."""
        return KeysStandIn(self.keys)

    @property
    def live_events(self) -> list[Event]:
        return [from_record(record) for record in self.records]


class _Log:
    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.versions: dict[uuid.UUID, int] = {}
        self.keys: dict[str, bytes] = {}

    def append(self, stream: uuid.UUID, event: DomainEvent) -> None:
        version = self.versions[stream] = self.versions.get(stream, 0) + 1
        n = len(self.events) + 1
        self.events.append(
            RecordedEvent(
                position=n,
                transaction_id=n,
                event_id=uuid.uuid4(),
                stream_type=event.stream_type,
                stream_id=stream,
                version=version,
                event_type=event.event_type(),
                schema_version=event.schema_version,
                data=event.model_dump(mode="json"),
                metadata=EventMetadata(correlation_id=str(stream), actor={"subject": "clerk"}),
                recorded_at=T0 + timedelta(minutes=n),
            )
        )

    def sealed(self, event: RecordedEvent) -> RecordedEvent:
        subject = subject_of(event.event_type, event.stream_type, event.stream_id, event.data)
        if subject is None:
            return event
        key = self.keys.setdefault(subject, new_data_key())
        data = seal(
            event.data, event.event_type, AESGCM(key), subject=subject, event_id=event.event_id
        )
        return event.model_copy(update={"data": data})


def _row(event: RecordedEvent) -> Doc:
    row: Doc = orjson.loads(orjson.dumps(event.model_dump(mode="json")))
    return row


def _record(n: int, event: RecordedEvent) -> Delivered:
    headers = tuple(to_headers(event, source="/write"))
    value = orjson.dumps(event.data)
    key = str(event.stream_id).encode()
    return Delivered(f"{event.stream_type}.events", 0, n, key, value, headers, 0)


def write_personal_history() -> PersonalHistory:
    log = _Log()
    ann, ben = uuid.uuid4(), uuid.uuid4()
    o1, o2, o3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    kettle = line("KETTLE", 1, "24.00")
    steps: list[tuple[uuid.UUID, Any]] = [
        (stock_stream_id("KETTLE"), StockReceived(sku="KETTLE", on_hand=5, reserved=0, quantity=5)),
        (ann, CustomerRegistered(name="Annabel Quill", email="Annabel.Quill@example.com")),
        (ben, CustomerRegistered(name="Benedict Rowe", email="ben.rowe@example.com")),
        (o1, placed(ann, [kettle, line("MUG", 2, "4.50")], ANN_ADDRESS)),
        (ann, CustomerRenamed(name="Annabel Q. Quill")),
        (o2, placed(ben, [line("MUG", 1, "4.50")], BEN_ADDRESS)),
        (ann, CustomerEmailChanged(old_email="Annabel.Quill@example.com",
                                   new_email="a.quill@example.org")),
        (o3, placed(ann, [line("TEA", 3, "2.10")], ANN_ADDRESS)),
        (o1, OrderConfirmed()),
        (ann, CustomerErased(erased_at=T0 + timedelta(hours=1), fields=list(ERASED_FIELDS))),
        (o3, OrderCancelled(reason="changed my mind")),
        (o1, OrderShipped(carrier="DPD", tracking_number="DPD-7")),
        (ben, CustomerRenamed(name="Ben Rowe")),
    ]  # fmt: skip
    for stream, event in steps:
        log.append(stream, event)
    sealed = [log.sealed(e) for e in log.events]
    erasure = next(n for n, e in enumerate(sealed) if e.event_type == "CustomerErased")
    return PersonalHistory(
        rows=[_row(e) for e in sealed],
        clear_rows=[_row(e) for e in log.events],
        records=[_record(n, e) for n, e in enumerate(sealed)],
        keys=dict(log.keys),
        ann=str(ann),
        ben=str(ben),
        orders=[str(o1), str(o2), str(o3)],
        erasure=erasure,
    )
