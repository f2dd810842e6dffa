"""The fulfilment process's own events: the record of its decisions, one stream per order.

They are internal to the write service (stream type `fulfilment`, never published): consumers
learn what they need from the order's and the stock items' events. Their fold is the state of
an instance, so a replay folds and never decides again.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, ClassVar, Final, Literal
from uuid import UUID

from pydantic import Field

from shared.contracts.events import (
    EVENT_TYPES,
    FULFILMENT,
    Contract,
    DomainEvent,
    Quantity,
    Sku,
    StockLevel,
    StreamType,
)

# Why the process decided: an order event it handled (its type and stream version), a
# reservation deadline that came due, or an operator's retry.
DEADLINE: Final = "deadline"
RETRY: Final = "retry"

Stage = Literal["pending", "reserved", "confirmed", "rejected", "cancelled", "expired", "shipped"]
# The stages an instance ends in.
FINAL_STAGES: Final[frozenset[str]] = frozenset({"rejected", "cancelled", "expired", "shipped"})


class Cause(Contract):
    """What made the process decide: `event` is an order event's type (with its `version`),
    or DEADLINE, or RETRY (no version)."""

    event: Annotated[str, Field(min_length=1, max_length=100)]
    version: Annotated[int, Field(gt=0)] | None = None


class FulfilmentEvent(DomainEvent):
    """An event of an order's fulfilment process, with what caused it."""

    stream_type: ClassVar[StreamType] = FULFILMENT
    cause: Cause


class FulfilmentStarted(FulfilmentEvent):
    """The process took charge of the order, under the rules of version `rules`."""

    order_id: UUID
    rules: Annotated[int, Field(gt=0)]


class LineReserved(FulfilmentEvent):
    """`quantity` units of the SKU are held for the order (its whole reservation of it)."""

    sku: Sku
    quantity: Quantity


class LineRefused(FulfilmentEvent):
    """The order's `quantity` units of the SKU could not be held: `available` were free."""

    sku: Sku
    quantity: Quantity
    available: StockLevel


class LineReleased(FulfilmentEvent):
    """The order's reservation of the SKU was given back (`quantity` units; 0: none was held)."""

    sku: Sku
    quantity: StockLevel


class LineShippedOut(FulfilmentEvent):
    """The order's reserved units of the SKU left with the shipment (0: none was held)."""

    sku: Sku
    quantity: StockLevel


class OrderMarkedReserved(FulfilmentEvent):
    """The order was told that every tracked line is reserved."""


class OrderRejectedByProcess(FulfilmentEvent):
    """The order was rejected: the lines of `skus` could not be reserved."""

    skus: Annotated[list[Sku], Field(min_length=1, max_length=500)]


class ReservationDeadlineSet(FulfilmentEvent):
    """Unless confirmed by `due_at`, the order is cancelled and its stock released."""

    due_at: datetime


class ReservationDeadlineCleared(FulfilmentEvent):
    """The order was confirmed: its reservations are held until it ships or is cancelled."""


class ReservationExpired(FulfilmentEvent):
    """The order was still unconfirmed at `due_at`: the process cancelled it."""

    due_at: datetime


class FulfilmentSuspended(FulfilmentEvent):
    """The process gave up on the order after `attempts` failures, until an operator retries."""

    error: Annotated[str, Field(min_length=1, max_length=1000)]
    attempts: Annotated[int, Field(gt=0)]


class FulfilmentRetried(FulfilmentEvent):
    """An operator (`by`, their subject) asked the suspended process to try again."""

    by: Annotated[str, Field(min_length=1, max_length=500)]


class FulfilmentCompleted(FulfilmentEvent):
    """The process has nothing left to do for the order, which ended `stage`."""

    stage: Stage


FULFILMENT_EVENT_TYPES: Mapping[str, type[DomainEvent]] = {
    cls.event_type(): cls
    for cls in (
        FulfilmentStarted,
        LineReserved,
        LineRefused,
        LineReleased,
        LineShippedOut,
        OrderMarkedReserved,
        OrderRejectedByProcess,
        ReservationDeadlineSet,
        ReservationDeadlineCleared,
        ReservationExpired,
        FulfilmentSuspended,
        FulfilmentRetried,
        FulfilmentCompleted,
    )
}
# What the write service stores: the shared contracts plus the process's internal events.
WRITE_EVENT_TYPES: Mapping[str, type[DomainEvent]] = {**EVENT_TYPES, **FULFILMENT_EVENT_TYPES}
