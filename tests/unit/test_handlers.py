import asyncio
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from services.write.application.context import caller_key
from services.write.application.handlers import (
    CommandContext,
    CommandHandlers,
    IdempotencyMismatch,
)
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


def order_for(customer_id: UUID) -> PlaceOrder:
    return PlaceOrder(
        customer_id=customer_id,
        items=[ITEM.model_dump()],
        shipping_address=ADDRESS,
        currency="EUR",
    )


async def test_a_customer_acts_on_their_own_profile_and_orders(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    ada = await handlers.register_customer(RegisterCustomer(name="Ada", email="a@x.io"), CTX)
    as_ada = CommandContext(subject="ada", customer_id=ada.stream_id)
    order = await handlers.place_order(order_for(ada.stream_id), as_ada)
    await handlers.add_order_item(order.stream_id, ITEM.model_copy(update={"sku": "B"}), as_ada)
    await handlers.remove_order_item(order.stream_id, RemoveOrderItem(sku="B"), as_ada)
    await handlers.rename_customer(ada.stream_id, RenameCustomer(name="Ada L"), as_ada)
    await handlers.change_customer_email(ada.stream_id, ChangeCustomerEmail(email="l@x.io"), as_ada)
    cancelled = await handlers.cancel_order(order.stream_id, CancelOrder(), as_ada)
    assert cancelled.version == 4


async def test_another_customers_data_does_not_exist_for_a_customer(
    store: FakeEventStore,
) -> None:
    handlers = CommandHandlers(store)
    bob_id, bobs_order = await new_order(handlers)
    await handlers.add_order_item(bobs_order, ITEM, CTX)  # cached here, as after any command
    as_ada = CommandContext(subject="ada", customer_id=uuid4())
    pinned = CommandContext(subject="ada", customer_id=as_ada.customer_id, expected_version=9)
    appends = store.appends
    refusals = {
        "place for Bob": handlers.place_order(order_for(bob_id), as_ada),
        "place for nobody": handlers.place_order(order_for(uuid4()), as_ada),
        "add to Bob's": handlers.add_order_item(bobs_order, ITEM, as_ada),
        "pinned to a version": handlers.add_order_item(bobs_order, ITEM, pinned),
        "cancel Bob's": handlers.cancel_order(bobs_order, CancelOrder(), as_ada),
        "rename Bob": handlers.rename_customer(bob_id, RenameCustomer(name="X"), as_ada),
        "Bob's email": handlers.change_customer_email(
            bob_id, ChangeCustomerEmail(email="x@x.io"), as_ada
        ),
    }
    for name, refused in refusals.items():
        with pytest.raises(NotFound, match="does not exist"):
            await refused
            pytest.fail(f"accepted: {name}")
    unknown_id = uuid4()
    with pytest.raises(NotFound) as unknown:
        await handlers.add_order_item(unknown_id, ITEM, CTX)
    with pytest.raises(NotFound) as foreign:
        await handlers.add_order_item(bobs_order, ITEM, as_ada)
    # word for word the answer about an order that does not exist
    assert str(unknown.value) == f"order {unknown_id} does not exist"
    assert str(foreign.value) == f"order {bobs_order} does not exist"
    assert store.appends == appends
    assert (await handlers.add_order_item(bobs_order, ITEM, CTX)).version == 3  # staff: anything


async def test_idempotency_keys_belong_to_their_caller(store: FakeEventStore) -> None:
    handlers = CommandHandlers(store)
    _, order_id = await new_order(handlers)
    first = CommandContext(idempotency_key="k", fingerprint="f", subject="clerk-1")
    other = CommandContext(idempotency_key="k", fingerprint="f", subject="clerk-2")
    assert (await handlers.add_order_item(order_id, ITEM, first)).version == 2
    theirs = await handlers.add_order_item(order_id, ITEM, other)
    assert (theirs.version, theirs.replayed) == (3, False)
    again = await handlers.add_order_item(order_id, ITEM, first)
    assert (again.version, again.replayed) == (2, True)


def test_stored_idempotency_keys_are_unambiguous_and_bounded() -> None:
    assert caller_key("ab", "c") != caller_key("a", "bc")
    assert caller_key("a:b", "c") != caller_key("a", "b:c")
    long_one, long_two = "s" * 5000, "s" * 4999 + "t"
    assert caller_key(long_one, "k") != caller_key(long_two, "k")
    assert len(caller_key(long_one, "k" * 200).encode()) < 300
    assert CommandContext(idempotency_key="k", subject="ada").stored_key == "3:ada:k"
    assert CommandContext().stored_key is None
