"""A projection's batch applier over the unit fakes of its ports, and events to feed it: what
the applier's tests share."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from services.read.application.applier import BatchApplier
from services.read.application.healing import healer
from services.read.application.ports import Delivered
from services.read.projections import order_details
from services.read.projections.base import Event, Heal, Outcome, Projection, Store, Wrapped
from services.read.projections.rollup import Rollups
from tests.unit.read_fakes import (
    FakeControl,
    FakeDeadLetters,
    FakeObserver,
    FakeStreams,
    FakeVersions,
)
from tests.unit.record_fakes import FakeSource, Records

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
ADDRESS = {"line1": "x", "city": "y", "postal_code": "z", "country": "FR"}


def event(stream: str, version: int, kind: str, **data: Any) -> Event:
    stream_type = next((t for t in ("order", "stock") if kind.startswith(t.title())), "customer")
    return Event(f"{stream}-{version}", stream_type, stream, version, kind, version, AT, data)


def placed(order: str, customer: str, price: str = "10.00") -> Event:
    line = {"sku": "A", "name": "Apple", "quantity": 1, "unit_price": price}
    return event(
        order,
        1,
        "OrderPlaced",
        customer_id=customer,
        currency="EUR",
        items=[line],
        shipping_address=ADDRESS,
    )


def added(order: str, version: int, quantity: int = 1) -> Event:
    return event(
        order,
        version,
        "OrderItemAdded",
        sku="A",
        name="Apple",
        quantity=quantity,
        unit_price="10.00",
    )


class World:
    """One projection's applier over fakes, and what it wrote, committed and dead-lettered."""

    def __init__(
        self, projection: Projection = order_details.PROJECTION, *, attempts: int = 3
    ) -> None:
        self.records = Records()
        self.versions = FakeVersions()
        self.control = FakeControl()
        self.dead = FakeDeadLetters()
        self.streams = FakeStreams()
        self.observer = FakeObserver()
        self.source = FakeSource()
        self.slept: list[float] = []
        self.projection = projection
        self.attempts = attempts
        self.applier = self.new_applier()

    def new_applier(self) -> BatchApplier:
        """An applier of its own (another replica, or this one restarted), on the same stores."""
        return BatchApplier(
            self.projection,
            decode=self.records.decode,
            versions=self.versions,
            control=self.control,
            dead_letters=self.dead,
            heal=healer(self.streams),
            observer=self.observer,
            attempts=self.attempts,
            sleep=self.sleep,
        )

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    @property
    def store(self) -> Any:
        return self.versions.live(self.projection.name, self.control.version)

    def doc(self, doc_id: str, role: str = "main") -> dict[str, Any]:
        found: dict[str, Any] = self.store.role(role)[doc_id]
        return found

    async def handle(
        self, records: Sequence[Delivered], applier: BatchApplier | None = None
    ) -> None:
        await (applier or self.applier).handle(self.source, records)


class Failing(Wrapped):
    """A projection whose apply step fails for one stream, `times` times (or always)."""

    def __init__(self, inner: Projection, stream_id: str, times: int | None) -> None:
        super().__init__(inner)
        self.stream_id, self.times = stream_id, times
        self.failures = 0

    async def apply(
        self, store: Store, events: Sequence[Event], heal: Heal, memo: Rollups
    ) -> Outcome:
        if any(e.stream_id == self.stream_id for e in events) and (
            self.times is None or self.failures < self.times
        ):
            self.failures += 1
            raise KeyError("items")
        return await self.inner.apply(store, events, heal, memo)
