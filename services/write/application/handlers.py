"""Command handlers: one per command of the domain (the stock commands in stock_handlers)."""

from datetime import datetime
from uuid import UUID, uuid4

from shared.contracts.personal import ERASED_FIELDS

from ..domain.commands import (
    AddOrderItem,
    CancelOrder,
    ChangeCustomerEmail,
    PlaceOrder,
    RegisterCustomer,
    RemoveOrderItem,
    RenameCustomer,
    ShipOrder,
)
from ..domain.customer import Customer, normalize_email
from ..domain.errors import NotFound, UnknownReference
from ..domain.order import Order
from .context import CommandContext
from .ports import EmailClaim, ErasureRequest, EventStore
from .runner import CommandResult, Decided, IdempotencyMismatch
from .stock_handlers import StockCommands

__all__ = ["CommandContext", "CommandHandlers", "CommandResult", "IdempotencyMismatch"]


class CommandHandlers(StockCommands):
    """One method per command (see CommandRunner for how each runs).

    Orders are decided with the SKUs known tracked here; those taken as untracked are checked
    by the append itself, so an order of untracked SKUs costs no query about its stock."""

    def __init__(
        self, store: EventStore, *, max_attempts: int = 10, cache_size: int = 10_000
    ) -> None:
        super().__init__(store, max_attempts=max_attempts, cache_size=cache_size)
        self._customers: set[UUID] = set()

    async def register_customer(self, cmd: RegisterCustomer, ctx: CommandContext) -> CommandResult:
        def decide(customer: Customer) -> Decided:
            customer.register(cmd)
            return Decided(email=EmailClaim(claim=normalize_email(cmd.email)))

        return await self._execute(Customer, uuid4(), decide, ctx, create=True)

    async def rename_customer(
        self, customer_id: UUID, cmd: RenameCustomer, ctx: CommandContext
    ) -> CommandResult:
        return await self._execute(Customer, customer_id, lambda c: c.rename(cmd), ctx)

    async def change_customer_email(
        self, customer_id: UUID, cmd: ChangeCustomerEmail, ctx: CommandContext
    ) -> CommandResult:
        def decide(customer: Customer) -> Decided:
            old = normalize_email(customer.email)
            customer.change_email(cmd)
            return Decided(email=EmailClaim(claim=normalize_email(cmd.email), release=old))

        return await self._execute(Customer, customer_id, decide, ctx)

    async def erase_customer(
        self, customer_id: UUID, erased_at: datetime, ctx: CommandContext
    ) -> CommandResult:
        """Append CustomerErased, and in the same transaction destroy the customer's key,
        release their emails and journal the erasure (ErasedCustomer if it was done before)."""
        erasure = ErasureRequest(
            customer_id=customer_id,
            erased_at=erased_at,
            requested_by=dict(ctx.metadata.actor or {}),
            fields=ERASED_FIELDS,
        )

        def decide(customer: Customer) -> Decided:
            customer.erase(erased_at)
            return Decided(erasure=erasure)

        return await self._execute(Customer, customer_id, decide, ctx)

    async def place_order(self, cmd: PlaceOrder, ctx: CommandContext) -> CommandResult:
        if not ctx.may_act_for(cmd.customer_id):  # exists or not: not theirs to know
            raise NotFound(f"customer {cmd.customer_id} does not exist")
        if cmd.customer_id not in self._customers:  # customers are never deleted: cache them
            if await self._store.stream_type_of(cmd.customer_id) != Customer.stream_type:
                raise UnknownReference(f"customer {cmd.customer_id} does not exist")
            self._customers.add(cmd.customer_id)
            if len(self._customers) > self._cache_size:
                self._customers.pop()

        def decide(order: Order) -> Decided:
            tracked, untracked = self._tracked.split(line.sku for line in cmd.items)
            order.place(cmd, tracked)
            return Decided(untracked=untracked)

        return await self._execute(Order, uuid4(), decide, ctx, create=True)

    async def add_order_item(
        self, order_id: UUID, cmd: AddOrderItem, ctx: CommandContext
    ) -> CommandResult:
        def decide(order: Order) -> Decided:
            tracked = cmd.sku in self._tracked or cmd.sku in order.tracked
            order.add_item(cmd, tracked)
            return Decided(untracked=() if tracked else [cmd.sku])

        return await self._execute(Order, order_id, decide, ctx)

    async def remove_order_item(
        self, order_id: UUID, cmd: RemoveOrderItem, ctx: CommandContext
    ) -> CommandResult:
        return await self._execute(Order, order_id, lambda o: o.remove_item(cmd), ctx)

    async def confirm_order(self, order_id: UUID, ctx: CommandContext) -> CommandResult:
        return await self._execute(Order, order_id, lambda o: o.confirm(), ctx)

    async def ship_order(
        self, order_id: UUID, cmd: ShipOrder, ctx: CommandContext
    ) -> CommandResult:
        return await self._execute(Order, order_id, lambda o: o.ship(cmd), ctx)

    async def cancel_order(
        self, order_id: UUID, cmd: CancelOrder, ctx: CommandContext
    ) -> CommandResult:
        return await self._execute(Order, order_id, lambda o: o.cancel(cmd), ctx)
