"""An order's fulfilment process: the state of an instance (the fold of its events), and the
commands its rules issue (see fulfilment_rules) for the stock items, the order and itself."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from .fulfilment_events import (
    FulfilmentCompleted,
    FulfilmentEvent,
    FulfilmentRetried,
    FulfilmentStarted,
    FulfilmentSuspended,
    LineRefused,
    LineReleased,
    LineReserved,
    LineShippedOut,
    OrderMarkedReserved,
    OrderRejectedByProcess,
    ReservationDeadlineCleared,
    ReservationDeadlineSet,
    ReservationExpired,
    Stage,
)
from .order import Order

State = Literal["active", "suspended", "completed"]


@dataclass(frozen=True)
class Instance:
    """What the process knows of one order: the reservations it holds, its deadline, and how
    it stands (`rules` 0: not started yet).

    `refused` (the lines refused) and `given_back` (lines released after a refusal, never to
    be reserved again) only live through the run that rejects the order.
    """

    order_id: UUID
    rules: int = 0
    version: int = 0
    state: State = "active"
    stage: Stage = "pending"
    reservations: Mapping[str, int] = field(default_factory=dict)
    refused: Mapping[str, int] = field(default_factory=dict)
    given_back: frozenset[str] = frozenset()
    deadline_at: datetime | None = None
    attempts: int = 0
    error: str | None = None

    @property
    def started(self) -> bool:
        return self.rules > 0


def tracked_lines(order: Order) -> dict[str, int]:
    """The quantity of each of the order's lines whose stock is tracked."""
    return {sku: line.quantity for sku, line in order.lines.items() if sku in order.tracked}


def evolve(instance: Instance, event: FulfilmentEvent) -> Instance:
    """The instance after one of its events (one more version of its stream)."""
    return replace(_folded(instance, event), version=instance.version + 1)


def _folded(i: Instance, event: FulfilmentEvent) -> Instance:
    match event:
        case FulfilmentStarted(rules=rules):
            return replace(i, rules=rules, state="active", stage="pending")
        case LineReserved(sku=sku, quantity=quantity):
            refused = {k: v for k, v in i.refused.items() if k != sku}
            return replace(i, reservations={**i.reservations, sku: quantity}, refused=refused)
        case LineRefused(sku=sku, quantity=quantity):
            return replace(i, refused={**i.refused, sku: quantity})
        case LineReleased(sku=sku) | LineShippedOut(sku=sku):
            return _without(i, sku)
        case OrderMarkedReserved():
            return replace(i, stage="reserved")
        case OrderRejectedByProcess():
            return replace(i, stage="rejected")
        case ReservationDeadlineSet(due_at=due_at):
            return replace(i, deadline_at=due_at)
        case ReservationDeadlineCleared():
            return replace(i, deadline_at=None, stage="confirmed")
        case ReservationExpired():
            return replace(i, deadline_at=None, stage="expired")
        case FulfilmentSuspended(error=error, attempts=attempts):
            return replace(i, state="suspended", error=error, attempts=attempts)
        case FulfilmentRetried():
            return replace(i, state="active", error=None, attempts=0)
        case FulfilmentCompleted(stage=stage):
            return replace(i, state="completed", stage=stage, deadline_at=None)
    raise TypeError(f"a fulfilment instance cannot fold {event.event_type()}")


def _without(i: Instance, sku: str) -> Instance:
    """The reservation of `sku` gone; the deadline goes with the last one (it is the deadline
    of held stock: an order holding none again starts a new one when it does)."""
    reservations = {k: v for k, v in i.reservations.items() if k != sku}
    deadline_at = i.deadline_at if reservations else None
    given_back = i.given_back | {sku} if i.refused else i.given_back
    return replace(i, reservations=reservations, deadline_at=deadline_at, given_back=given_back)


@dataclass(frozen=True)
class Command:
    """Something the process asks of an aggregate (or of itself); `name` counts it."""

    name: ClassVar[str]


@dataclass(frozen=True)
class Start(Command):
    name: ClassVar[str] = "start"
    rules: int


@dataclass(frozen=True)
class Reserve(Command):
    name: ClassVar[str] = "reserve"
    sku: str
    quantity: int


@dataclass(frozen=True)
class Release(Command):
    name: ClassVar[str] = "release"
    sku: str


@dataclass(frozen=True)
class ShipOut(Command):
    name: ClassVar[str] = "ship_out"
    sku: str


@dataclass(frozen=True)
class MarkOrderReserved(Command):
    name: ClassVar[str] = "mark_reserved"


@dataclass(frozen=True)
class RejectOrder(Command):
    name: ClassVar[str] = "reject"
    skus: tuple[str, ...]


@dataclass(frozen=True)
class ExpireOrder(Command):
    name: ClassVar[str] = "expire"
    reason: str
    due_at: datetime


@dataclass(frozen=True)
class SetDeadline(Command):
    name: ClassVar[str] = "set_deadline"
    due_at: datetime


@dataclass(frozen=True)
class ClearDeadline(Command):
    name: ClassVar[str] = "clear_deadline"


@dataclass(frozen=True)
class Complete(Command):
    name: ClassVar[str] = "complete"
    stage: Stage
