import asyncio
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from services.write.application.handlers import (
    CommandContext,
    CommandHandlers,
    IdempotencyMismatch,
)
from services.write.domain.commands import (
    AddOrderItem,
    ChangeCustomerEmail,
    PlaceOrder,
    RegisterCustomer,
    ShipOrder,
)
from services.write.domain.errors import (
    ConcurrencyError,
    DuplicateEmail,
    InvalidTransition,
    NotFound,
    UnknownReference,
    VersionMismatch,
)

from .fakes import FakeEventStore

ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}
ITEM = AddOrderItem(sku="A", name="A", quantity=1, unit_price=Decimal("1.00"))
CTX = CommandContext()


@pytest.fixture
def store() -> FakeEventStore:
    return FakeEventStore()


async def new_order(handlers: CommandHandlers) -> tuple[UUID, UUID]:
    customer = await handlers.register_customer(RegisterCustomer(name="A", email="a@x.io"), CTX)
    order = await handlers.place_order(
        PlaceOrder(
            customer_id=customer.stream_id,
            items=[ITEM.model_dump()],
            shipping_address=ADDRESS,
            currency="EUR",
        ),
        CTX,
    )
    return customer.stream_id, order.stream_id


async def test_concurrent_commands_on_one_stream_all_succeed(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    _, order_id = await new_order(handlers)
    results = await asyncio.gather(
        *(handlers.add_order_item(order_id, ITEM, CTX) for _ in range(50))
    )
    assert sorted(r.version for r in results) == list(range(2, 52))


async def test_lost_race_is_rerun_then_given_up(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store, max_attempts=3)
    _, order_id = await new_order(handlers)
    store.conflicts_to_inject = 2
    assert (await handlers.add_order_item(order_id, ITEM, CTX)).version == 2
    store.conflicts_to_inject = 3
    with pytest.raises(ConcurrencyError):
        await handlers.add_order_item(order_id, ITEM, CTX)


async def test_stale_expected_version_fails_fast(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    _, order_id = await new_order(handlers)
    appends = store.appends
    with pytest.raises(VersionMismatch):
        await handlers.confirm_order(order_id, CommandContext(expected_version=5))
    assert store.appends == appends
    result = await handlers.confirm_order(order_id, CommandContext(expected_version=1))
    assert result.version == 2


async def test_idempotency_replays_and_refuses_other_bodies(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    ctx = CommandContext(idempotency_key="k1", fingerprint="f1")
    first = await handlers.register_customer(RegisterCustomer(name="A", email="a@x.io"), ctx)
    again = await handlers.register_customer(RegisterCustomer(name="A", email="a@x.io"), ctx)
    assert (again.stream_id, again.version, again.replayed) == (first.stream_id, 1, True)
    assert store.appends == 1
    with pytest.raises(IdempotencyMismatch):
        await handlers.register_customer(
            RegisterCustomer(name="B", email="b@x.io"),
            CommandContext(idempotency_key="k1", fingerprint="other"),
        )


async def test_unknown_streams_and_references(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    with pytest.raises(NotFound):
        await handlers.confirm_order(uuid4(), CTX)
    customer_id, order_id = await new_order(handlers)
    with pytest.raises(NotFound):  # a customer is not an order
        await handlers.confirm_order(customer_id, CTX)
    with pytest.raises(UnknownReference):
        await handlers.place_order(
            PlaceOrder(
                customer_id=order_id,
                items=[ITEM.model_dump()],
                shipping_address=ADDRESS,
                currency="EUR",
            ),
            CTX,
        )


async def test_emails_are_unique(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    first = await handlers.register_customer(RegisterCustomer(name="A", email="a@x.io"), CTX)
    with pytest.raises(DuplicateEmail):
        await handlers.register_customer(RegisterCustomer(name="B", email="A@X.io"), CTX)
    await handlers.change_customer_email(first.stream_id, ChangeCustomerEmail(email="n@x.io"), CTX)
    await handlers.register_customer(RegisterCustomer(name="B", email="a@x.io"), CTX)


async def test_cached_aggregates_see_what_other_replicas_appended(store: FakeEventStore) -> None:
    here, there = CommandHandlers(store), CommandHandlers(store)
    _, order_id = await new_order(here)
    await here.add_order_item(order_id, ITEM, CTX)  # cached at version 2 here
    await there.add_order_item(order_id, ITEM, CTX)  # version 3, appended elsewhere
    result = await here.add_order_item(order_id, ITEM, CTX)
    assert result.version == 4
    await here.confirm_order(order_id, CTX)
    with pytest.raises(InvalidTransition):  # the failed decision does not stick in the cache
        await here.add_order_item(order_id, ITEM, CTX)
    assert (
        await there.ship_order(order_id, ShipOrder(carrier="c", tracking_number="t"), CTX)
    ).version == 6
