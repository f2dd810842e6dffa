"""A small history written by hand through the command handlers: six customers, twelve orders
whose streams interleave, renames and email changes after the orders, and the values its order
documents come out with, worked out by hand."""

from decimal import Decimal
from uuid import UUID

from services.read.projections.base import Event
from services.write.adapters.postgres import PostgresEventStore
from services.write.application.handlers import CommandContext, CommandHandlers
from services.write.domain.commands import (
    AddOrderItem,
    CancelOrder,
    ChangeCustomerEmail,
    PlaceOrder,
    RegisterCustomer,
    RemoveOrderItem,
    RenameCustomer,
    ShipOrder,
)
from shared.contracts.envelope import START, RecordedEvent
from shared.contracts.events import OrderLine
from tests.integration.projections.projecting import key_ring
from tests.unit.read_fakes import FakeKeyRing

CTX = CommandContext()
ADDRESS = {"line1": "1 Quay St", "city": "Lyon", "postal_code": "69001", "country": "FR"}
CATALOGUE = {
    "APL": ("Apple", "1.25"),
    "BRD": ("Bread", "3.40"),
    "CHS": ("Cheese", "7.99"),
    "DTE": ("Dates", "0.35"),
    "EGG": ("Eggs", "2.10"),
}
CUSTOMERS = ["Ada", "Bob", "Cy", "Dee", "Eve", "Fay"]
# (customer, lines placed, steps before the customers change); "add APL 3" adds to a placed SKU.
ORDERS: list[tuple[int, list[tuple[str, int]], list[str]]] = [
    (0, [("APL", 2)], ["add APL 3", "add BRD 1", "confirm"]),
    (0, [("CHS", 1), ("DTE", 10)], ["remove DTE", "cancel"]),
    (1, [("EGG", 2)], ["confirm", "cancel"]),
    (1, [("BRD", 2)], ["add CHS 1"]),
    (2, [("APL", 1)], ["add APL 1", "add APL 2", "confirm"]),
    (2, [("DTE", 3)], ["confirm", "ship"]),
    (3, [("CHS", 2)], []),
    (3, [("EGG", 1), ("BRD", 1)], ["remove EGG", "confirm", "cancel"]),
    (4, [("APL", 4)], ["confirm"]),
    (4, [("BRD", 1), ("CHS", 1), ("DTE", 2)], []),
    (5, [("EGG", 3)], ["cancel"]),
    (5, [("DTE", 1)], []),
]
# Renames and email changes, all after the customers' orders were placed.
CUSTOMER_CHANGES = [
    (0, "rename Ada Lovelace"),
    (1, "email bob.builder@example.org"),
    (3, "rename Dee Dee"),
    (0, "rename Ada King"),
    (3, "email dee.dee@example.org"),
]
LATE_STEPS = [(0, "ship"), (8, "ship"), (11, "add EGG 1")]
# Worked out by hand from the above: total, item_count, status, version.
EXPECTED_ORDERS = [
    ("9.65", 6, "shipped", 5),
    ("7.99", 1, "cancelled", 3),
    ("4.20", 2, "cancelled", 3),
    ("14.79", 3, "placed", 2),
    ("5.00", 4, "confirmed", 4),
    ("1.05", 3, "shipped", 3),
    ("15.98", 2, "placed", 1),
    ("3.40", 1, "cancelled", 4),
    ("5.00", 4, "shipped", 3),
    ("12.09", 4, "placed", 1),
    ("6.30", 3, "cancelled", 2),
    ("2.45", 2, "placed", 2),
]


class History:
    """The log as written, with the ids of the customers and orders in script order."""

    def __init__(
        self, events: list[Event], customers: list[str], orders: list[str], keys: FakeKeyRing
    ) -> None:
        self.events, self.customers, self.orders = events, customers, orders
        self.keys = keys  # the customers' keys, as the event store holds them

    def of(self, stream_id: str, version: int) -> Event:
        return next(e for e in self.events if (e.stream_id, e.version) == (stream_id, version))


def order_line(sku: str, quantity: int) -> OrderLine:
    name, price = CATALOGUE[sku]
    return OrderLine(sku=sku, name=name, quantity=quantity, unit_price=Decimal(price))


async def run_step(handlers: CommandHandlers, order_id: UUID, step: str) -> None:
    verb, *args = step.split()
    if verb == "add":
        line = order_line(args[0], int(args[1]))
        await handlers.add_order_item(order_id, AddOrderItem(**line.model_dump()), CTX)
    elif verb == "remove":
        await handlers.remove_order_item(order_id, RemoveOrderItem(sku=args[0]), CTX)
    elif verb == "confirm":
        await handlers.confirm_order(order_id, CTX)
    elif verb == "ship":
        cmd = ShipOrder(carrier="DHL", tracking_number=f"TRK-{order_id.hex[:8]}")
        await handlers.ship_order(order_id, cmd, CTX)
    else:
        await handlers.cancel_order(order_id, CancelOrder(reason="changed mind"), CTX)


async def change_customer(handlers: CommandHandlers, customer_id: UUID, change: str) -> None:
    verb, value = change.split(" ", 1)
    if verb == "rename":
        await handlers.rename_customer(customer_id, RenameCustomer(name=value), CTX)
    else:
        await handlers.change_customer_email(customer_id, ChangeCustomerEmail(email=value), CTX)


async def write_worked_history(store: PostgresEventStore) -> History:
    handlers = CommandHandlers(store)
    customers: list[UUID] = []
    for name in CUSTOMERS:
        register = RegisterCustomer(name=name, email=f"{name.lower()}@example.org")
        customers.append((await handlers.register_customer(register, CTX)).stream_id)
    orders: list[UUID] = []
    for customer, lines, _ in ORDERS:
        items = [order_line(sku, quantity) for sku, quantity in lines]
        cmd = PlaceOrder(
            customer_id=customers[customer], items=items, shipping_address=ADDRESS, currency="EUR"
        )
        orders.append((await handlers.place_order(cmd, CTX)).stream_id)
    for round_ in range(max(len(steps) for _, _, steps in ORDERS)):  # streams interleave
        for order_id, (_, _, steps) in zip(orders, ORDERS, strict=True):
            if round_ < len(steps):
                await run_step(handlers, order_id, steps[round_])
    for customer, change in CUSTOMER_CHANGES:
        await change_customer(handlers, customers[customer], change)
    for order, step in LATE_STEPS:
        await run_step(handlers, orders[order], step)
    log = await store.read_all(START, 10_000)
    keys = await key_ring(store, customers)
    return History(
        [as_event(e) for e in log], [str(c) for c in customers], [str(o) for o in orders], keys
    )


def as_event(recorded: RecordedEvent) -> Event:
    return Event(
        event_id=str(recorded.event_id),
        stream_type=recorded.stream_type,
        stream_id=str(recorded.stream_id),
        version=recorded.version,
        event_type=recorded.event_type,
        position=recorded.position,
        recorded_at=recorded.recorded_at,
        data=dict(recorded.data),
    )
