"""Command handlers: load the aggregate, let it decide, append what it recorded."""

import asyncio
import random
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID, uuid4

from ..domain.aggregate import Aggregate
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
from ..domain.errors import (
    ConcurrencyError,
    DomainError,
    NotFound,
    UnknownReference,
    VersionMismatch,
)
from ..domain.order import Order
from .context import CommandContext
from .locks import KeyedLocks
from .ports import EmailClaim, EventStore, IdempotencyKeyTaken, IdempotencyRecord

__all__ = ["CommandContext", "CommandHandlers", "CommandResult", "IdempotencyMismatch"]
A = TypeVar("A", bound=Aggregate)


class IdempotencyMismatch(Exception):
    """The idempotency key was first used with another request (422)."""


@dataclass(frozen=True)
class CommandResult:
    stream_id: UUID
    version: int
    position: int
    created: bool
    replayed: bool = False


class CommandHandlers:
    """One method per command. Losing a race re-runs the command, unless a version was given.

    A customer's command on another customer's profile or order fails as if it did not exist
    (NotFound, checked before anything else can tell): object-level authorization."""

    def __init__(
        self, store: EventStore, *, max_attempts: int = 10, cache_size: int = 10_000
    ) -> None:
        self._store = store
        self._max_attempts = max_attempts
        self._locks = KeyedLocks()
        # Aggregates as of their last successful command here; taken out while a command runs,
        # so a failed decision never leaves a half-changed aggregate behind.
        self._cache: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._cache_size = cache_size
        self._customers: set[UUID] = set()

    async def register_customer(self, cmd: RegisterCustomer, ctx: CommandContext) -> CommandResult:
        def decide(customer: Customer) -> EmailClaim:
            customer.register(cmd)
            return EmailClaim(claim=normalize_email(cmd.email))

        return await self._execute(Customer, uuid4(), decide, ctx, create=True)

    async def rename_customer(
        self, customer_id: UUID, cmd: RenameCustomer, ctx: CommandContext
    ) -> CommandResult:
        return await self._execute(Customer, customer_id, lambda c: c.rename(cmd), ctx)

    async def change_customer_email(
        self, customer_id: UUID, cmd: ChangeCustomerEmail, ctx: CommandContext
    ) -> CommandResult:
        def decide(customer: Customer) -> EmailClaim:
            old = normalize_email(customer.email)
            customer.change_email(cmd)
            return EmailClaim(claim=normalize_email(cmd.email), release=old)

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
        return await self._execute(Order, uuid4(), lambda o: o.place(cmd), ctx, create=True)

    async def add_order_item(
        self, order_id: UUID, cmd: AddOrderItem, ctx: CommandContext
    ) -> CommandResult:
        return await self._execute(Order, order_id, lambda o: o.add_item(cmd), ctx)

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

    async def _replay(self, ctx: CommandContext) -> CommandResult | None:
        if ctx.stored_key is None:
            return None
        stored = await self._store.find_response(ctx.stored_key)
        if stored is None:
            return None
        if stored.fingerprint != ctx.fingerprint:
            raise IdempotencyMismatch("this Idempotency-Key was used with a different request")
        return CommandResult(
            stream_id=stored.stream_id,
            version=stored.version,
            position=stored.position,
            created=stored.created,
            replayed=True,
        )

    async def _execute(
        self,
        kind: type[A],
        stream_id: UUID,
        decide: Callable[[A], EmailClaim | None],
        ctx: CommandContext,
        *,
        create: bool = False,
    ) -> CommandResult:
        replay = await self._replay(ctx)
        if replay is not None:
            return replay
        if create:  # a stream id just drawn: no other command can name it yet
            return await self._attempts(kind, stream_id, decide, ctx, create=True)
        async with self._locks.hold(stream_id):
            return await self._attempts(kind, stream_id, decide, ctx, create=False)

    async def _attempts(
        self,
        kind: type[A],
        stream_id: UUID,
        decide: Callable[[A], EmailClaim | None],
        ctx: CommandContext,
        *,
        create: bool,
    ) -> CommandResult:
        # A cached aggregate is used without reading the store; anything that could be caused
        # by it being behind (a refusal, a lost race, an expected version) re-reads instead.
        trust = ctx.expected_version is None
        for attempt in range(self._max_attempts):
            aggregate, trusted = await self._checked(kind, stream_id, ctx, create, trust)
            expected = aggregate.version
            try:
                email = decide(aggregate)
            except (DomainError, NotFound):
                if not trusted:
                    raise
                trust = False
                continue
            idem = None
            if ctx.stored_key is not None:
                idem = IdempotencyRecord(ctx.stored_key, ctx.fingerprint, created=create)
            try:
                result = await self._store.append(
                    stream_type=kind.stream_type,
                    stream_id=stream_id,
                    expected_version=expected,
                    events=aggregate.pending,
                    metadata=ctx.metadata,
                    email=email,
                    idempotency=idem,
                )
            except ConcurrencyError:
                trust = False
                if ctx.expected_version is not None:
                    raise VersionMismatch(ctx.expected_version, expected + 1) from None
                # Another replica won the race: back off a little, then decide again.
                await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))
                continue
            except IdempotencyKeyTaken:
                replay = await self._replay(ctx)
                if replay is None:
                    raise
                return replay
            self._remember(aggregate)
            return CommandResult(stream_id, result.version, result.position, created=create)
        raise ConcurrencyError(
            f"stream {stream_id} kept moving: gave up after {self._max_attempts} attempts"
        )

    async def _checked(
        self, kind: type[A], stream_id: UUID, ctx: CommandContext, create: bool, trust: bool
    ) -> tuple[A, bool]:
        """The aggregate to decide on (see `_load`), if the caller may act on it (else NotFound,
        before a version mismatch could tell that it exists) and it is at the version asked."""
        aggregate, trusted = await self._load(kind, stream_id, create=create, trust=trust)
        if not create and not ctx.may_act_for(aggregate.owner):
            self._remember(aggregate)  # as sound as loaded: kept for its owner's commands
            raise NotFound(f"{kind.stream_type} {stream_id} does not exist")
        if ctx.expected_version is not None and aggregate.version != ctx.expected_version:
            raise VersionMismatch(ctx.expected_version, aggregate.version)
        return aggregate, trusted

    async def _load(
        self, kind: type[A], stream_id: UUID, *, create: bool, trust: bool
    ) -> tuple[A, bool]:
        """The aggregate, and whether it came from the cache without reading the store."""
        if create:
            return kind(stream_id), False
        cached = self._cache.pop(stream_id, None)
        if isinstance(cached, kind):
            if trust:
                return cached, True
            stream = await self._store.load(stream_id, after_version=cached.version)
            for event in stream.events:
                cached.apply(event)
            return cached, False
        stream = await self._store.load(stream_id)
        if stream.stream_type != kind.stream_type:
            raise NotFound(f"{kind.stream_type} {stream_id} does not exist")
        return kind.rehydrate(stream_id, stream.events), False

    def _remember(self, aggregate: Aggregate) -> None:
        aggregate.pending = []
        self._cache[aggregate.id] = aggregate
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
