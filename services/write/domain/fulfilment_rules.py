"""The rules of the fulfilment process: given an instance and its order as they stand now, the
next command, or None when nothing is left to do.

Pure, and idempotent on a converged instance: run again over the same state, they issue
nothing. An instance finishes under the rules it started with (RULES, by version), so changing
them means a new version beside the old one.
"""

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Final

from .fulfilment import (
    ClearDeadline,
    Command,
    Complete,
    ExpireOrder,
    Instance,
    MarkOrderReserved,
    RejectOrder,
    Release,
    Reserve,
    SetDeadline,
    ShipOut,
    Start,
    tracked_lines,
)
from .fulfilment_events import Stage
from .order import Order, OrderStatus, StockState

Decide = Callable[[Instance, Order, datetime, timedelta], Command | None]


class UnknownRules(Exception):
    """The instance started under rules this version of the service does not have."""


def decide_v1(instance: Instance, order: Order, now: datetime, ttl: timedelta) -> Command | None:
    """Reserve every tracked line; all reserved -> tell the order; any refused -> release the
    rest, then reject the order; unconfirmed past the deadline -> cancel it; cancelled or
    rejected -> release everything; shipped -> ship everything out."""
    if instance.state != "active":
        return None
    if not instance.started:
        placed = order.status is OrderStatus.PLACED
        return Start(rules=1) if placed and tracked_lines(order) else None
    if order.status in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
        return _wind_up(instance, order)
    if order.status is OrderStatus.SHIPPED:
        held = instance.reservations
        return ShipOut(sku=min(held)) if held else _done("shipped")
    if order.status is OrderStatus.CONFIRMED:
        return None if instance.stage == "confirmed" else ClearDeadline()
    return _placed(instance, order, now, ttl)


def _wind_up(instance: Instance, order: Order) -> Command:
    """Release what the order holds, then end: rejected, expired (cancelled by the process's
    deadline) or cancelled."""
    if instance.reservations:
        return Release(sku=min(instance.reservations))
    if order.status is OrderStatus.REJECTED:
        return _done("rejected")
    return _done("expired" if instance.stage == "expired" else "cancelled")


def _done(stage: Stage) -> Command:
    return Complete(stage=stage)


def _placed(instance: Instance, order: Order, now: datetime, ttl: timedelta) -> Command | None:
    tracked = tracked_lines(order)
    held = instance.reservations
    gone = sorted(sku for sku in held if sku not in tracked)
    if gone:  # the line was removed: give its stock back
        return Release(sku=gone[0])
    for sku, quantity in sorted(tracked.items()):
        tried = instance.refused.get(sku) == quantity or sku in instance.given_back
        if held.get(sku) != quantity and not tried:
            return Reserve(sku=sku, quantity=quantity)
    short = sorted(sku for sku, asked in instance.refused.items() if tracked.get(sku) == asked)
    if short:  # compensation first: nothing stays held for an order that is rejected
        return Release(sku=min(held)) if held else RejectOrder(skus=tuple(short))
    if order.stock_state is StockState.PENDING:
        return MarkOrderReserved()
    return _deadline(instance, now, ttl)


def _deadline(instance: Instance, now: datetime, ttl: timedelta) -> Command | None:
    if not instance.reservations:
        return None
    if instance.deadline_at is None:
        return SetDeadline(due_at=now + ttl)
    if now >= instance.deadline_at:
        reason = f"stock reservation expired after {ttl.total_seconds():g} s unconfirmed"
        return ExpireOrder(reason=reason, due_at=instance.deadline_at)
    return None


CURRENT_RULES: Final = 1
RULES: Mapping[int, Decide] = {1: decide_v1}


def decide(instance: Instance, order: Order, now: datetime, ttl: timedelta) -> Command | None:
    """The next command under the instance's rules (the current ones for a new instance)."""
    rules = instance.rules or CURRENT_RULES
    chosen = RULES.get(rules)
    if chosen is None:
        raise UnknownRules(f"no rules of version {rules} here")
    return chosen(instance, order, now, ttl)
