"""How the process's commands are carried out: each by the aggregate it names (a SKU's stock
item, the order) or by the process alone, and recorded as the process's event of the outcome.

The aggregates decide and record their own events (appended by whoever loaded them); the
event returned here is the process's record of what they decided.
"""

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
)
from .fulfilment_events import (
    Cause,
    FulfilmentCompleted,
    FulfilmentEvent,
    FulfilmentStarted,
    LineRefused,
    LineReleased,
    LineReserved,
    LineShippedOut,
    OrderMarkedReserved,
    OrderRejectedByProcess,
    ReservationDeadlineCleared,
    ReservationDeadlineSet,
    ReservationExpired,
)
from .order import Order
from .stock import StockItem


def stock_sku(command: Command) -> str | None:
    """The SKU whose stock item carries the command out (None: not a stock command)."""
    if isinstance(command, Reserve | Release | ShipOut):
        return command.sku
    return None


def touches_order(command: Command) -> bool:
    return isinstance(command, MarkOrderReserved | RejectOrder | ExpireOrder)


def carry_out(
    instance: Instance,
    command: Command,
    cause: Cause,
    *,
    order: Order,
    stock: StockItem | None = None,
) -> FulfilmentEvent:
    """Carry `command` out (on `stock`, the item of its SKU, for a stock command) and return
    the process's event of the outcome; the aggregate's own events wait in its `pending`."""
    own = own_event(instance, command, cause)
    if own is not None:
        return own
    if stock is not None:
        return _on_stock(instance, command, cause, stock)
    match command:
        case MarkOrderReserved():
            order.mark_stock_reserved()
            return OrderMarkedReserved(cause=cause)
        case RejectOrder(skus=skus):
            order.reject(skus)
            return OrderRejectedByProcess(skus=sorted(skus), cause=cause)
        case ExpireOrder(reason=reason, due_at=due_at):
            order.expire(reason)
            return ReservationExpired(due_at=due_at, cause=cause)
    raise TypeError(f"{type(command).__name__} needs a stock item to carry it out")


def _on_stock(
    instance: Instance, command: Command, cause: Cause, stock: StockItem
) -> FulfilmentEvent:
    order_id = instance.order_id
    match command:
        case Reserve(sku=sku, quantity=quantity):
            if stock.reserve(order_id, quantity):
                return LineReserved(sku=sku, quantity=quantity, cause=cause)
            return LineRefused(sku=sku, quantity=quantity, available=stock.available, cause=cause)
        case Release(sku=sku):
            return LineReleased(sku=sku, quantity=stock.release(order_id), cause=cause)
        case ShipOut(sku=sku):
            return LineShippedOut(sku=sku, quantity=stock.ship_out(order_id), cause=cause)
    raise TypeError(f"{type(command).__name__} is not carried out by a stock item")


def own_event(instance: Instance, command: Command, cause: Cause) -> FulfilmentEvent | None:
    """The event of a command the process carries out on itself alone (None for the others,
    whose outcome an aggregate decides)."""
    match command:
        case Start(rules=rules):
            return FulfilmentStarted(order_id=instance.order_id, rules=rules, cause=cause)
        case SetDeadline(due_at=due_at):
            return ReservationDeadlineSet(due_at=due_at, cause=cause)
        case ClearDeadline():
            return ReservationDeadlineCleared(cause=cause)
        case Complete(stage=stage):
            return FulfilmentCompleted(stage=stage, cause=cause)
    return None
