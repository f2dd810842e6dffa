"""Erasure, disclosure and data keys in the application, over fakes of the store, the personal
data port and the read side."""

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from services.write.application.context import CommandContext
from services.write.application.handlers import CommandHandlers
from services.write.application.personal import PersonalDataGone, PersonalDataHandlers
from services.write.application.ports import SubjectErased
from services.write.domain.commands import (
    AddOrderItem,
    CancelOrder,
    ChangeCustomerEmail,
    PlaceOrder,
    RegisterCustomer,
    RenameCustomer,
)
from services.write.domain.errors import ErasedCustomer, NotFound
from shared.contracts.envelope import EventMetadata
from shared.contracts.events import CustomerErased
from shared.contracts.personal import ERASED_FIELDS

from .fakes import FakeEventStore
from .personal_fakes import FakeErasureProgress, FakePersonalData

ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}
ITEM = AddOrderItem(sku="A", name="A", quantity=1, unit_price=Decimal("1.00"))
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
STAFF = CommandContext(subject="dpo", metadata=EventMetadata(actor={"subject": "dpo"}))


class World:
    """The handlers over one fake store, as one replica of the write service."""

    def __init__(self, store: FakeEventStore | None = None) -> None:
        self.store = store or FakeEventStore()
        self.personal = FakePersonalData(self.store)
        self.read_side = FakeErasureProgress()
        self.commands = CommandHandlers(self.store)
        self.handlers = PersonalDataHandlers(
            self.commands, self.personal, self.read_side, clock=lambda: NOW
        )

    async def customer(self, email: str = "ada@example.com") -> UUID:
        registered = RegisterCustomer(name="Ada", email=email)
        return (await self.commands.register_customer(registered, STAFF)).stream_id

    async def order(self, customer_id: UUID, ctx: CommandContext = STAFF) -> UUID:
        cmd = PlaceOrder(
            customer_id=customer_id,
            items=[ITEM.model_dump()],
            shipping_address=ADDRESS,
            currency="EUR",
        )
        return (await self.commands.place_order(cmd, ctx)).stream_id


def as_customer(customer_id: UUID) -> CommandContext:
    actor = {"subject": "ada", "customer_id": str(customer_id)}
    return CommandContext(
        subject="ada", customer_id=customer_id, metadata=EventMetadata(actor=actor)
    )


@pytest.fixture
def world() -> World:
    return World()


async def test_an_erasure_answers_its_receipt_and_the_same_receipt_again(world: World) -> None:
    ada = await world.customer()
    receipt = await world.handlers.erase_customer(ada, STAFF)
    assert (receipt.customer_id, receipt.erased_at, receipt.fields) == (ada, NOW, ERASED_FIELDS)
    assert (receipt.requested_by, receipt.key_destroyed, receipt.claims_released) == (
        "dpo",
        True,
        1,
    )
    appends = world.store.appends
    assert await world.handlers.erase_customer(ada, STAFF) == receipt
    assert world.store.appends == appends  # nothing appended the second time
    history = (await world.store.load(ada)).events
    assert [type(e) for e in history][-1] is CustomerErased and len(history) == 2


async def test_concurrent_erasures_append_one_event_and_answer_one_receipt(world: World) -> None:
    ada = await world.customer()
    other_replica = World(world.store)
    receipts = await asyncio.gather(
        world.handlers.erase_customer(ada, STAFF),
        world.handlers.erase_customer(ada, STAFF),
        other_replica.handlers.erase_customer(ada, STAFF),
    )
    assert receipts[0] == receipts[1] == receipts[2]
    erased = [e for e in (await world.store.load(ada)).events if isinstance(e, CustomerErased)]
    assert len(erased) == 1


async def test_an_erased_customer_is_refused_anything_personal(world: World) -> None:
    ada = await world.customer()
    placed = await world.order(ada)
    await world.handlers.erase_customer(ada, STAFF)
    with pytest.raises(ErasedCustomer):
        await world.commands.rename_customer(ada, RenameCustomer(name="Bo"), STAFF)
    with pytest.raises(ErasedCustomer):
        await world.commands.change_customer_email(
            ada, ChangeCustomerEmail(email="bo@example.com"), STAFF
        )
    with pytest.raises(SubjectErased):  # the store's guard: its address would be theirs
        await world.order(ada)
    # what holds no personal data still happens to the orders they had
    assert (await world.commands.add_order_item(placed, ITEM, STAFF)).version == 2
    assert (await world.commands.cancel_order(placed, CancelOrder(), STAFF)).version == 3


async def test_a_replica_that_cached_the_customer_is_refused_by_the_store(world: World) -> None:
    there = World(world.store)
    ada = await world.customer()
    await there.commands.rename_customer(ada, RenameCustomer(name="Ada L"), STAFF)  # cached there
    await world.handlers.erase_customer(ada, STAFF)
    with pytest.raises((ErasedCustomer, SubjectErased)):
        await there.commands.rename_customer(ada, RenameCustomer(name="Bo"), STAFF)


async def test_the_same_email_registers_again_after_the_erasure(world: World) -> None:
    ada = await world.customer("ada@example.com")
    await world.handlers.erase_customer(ada, STAFF)
    again = await world.customer("ADA@example.com")
    assert again != ada


async def test_a_customer_may_erase_themselves_and_nobody_else(world: World) -> None:
    ada, bob = await world.customer("ada@example.com"), await world.customer("bob@example.com")
    with pytest.raises(NotFound, match="does not exist"):
        await world.handlers.erase_customer(bob, as_customer(ada))
    assert await world.personal.receipt(bob) is None
    receipt = await world.handlers.erase_customer(ada, as_customer(ada))
    assert receipt.requested_by == "ada"
    with pytest.raises(NotFound):  # erased or not, another's is not theirs to know
        await world.handlers.erase_customer(ada, as_customer(bob))


async def test_only_customers_can_be_erased(world: World) -> None:
    ada = await world.customer()
    order = await world.order(ada)
    for stream in (uuid4(), order):
        with pytest.raises(NotFound):
            await world.handlers.erase_customer(stream, STAFF)
    assert world.store.erasures == {}


async def test_the_erasure_status_says_what_holds_now(world: World) -> None:
    ada = await world.customer()
    with pytest.raises(NotFound):
        await world.handlers.erasure_status(ada, credentials="Bearer t")
    receipt = await world.handlers.erase_customer(ada, STAFF)
    world.read_side.answer = {"customers": True, "order_details": False}
    status = await world.handlers.erasure_status(ada, credentials="Bearer t")
    assert (status.receipt, status.key_present, status.claims_held) == (receipt, False, 0)
    assert status.projections == {"customers": True, "order_details": False}
    assert world.read_side.asked == [(ada, "Bearer t")]  # the caller's own credentials
    world.read_side.answer = None
    assert (await world.handlers.erasure_status(ada, credentials=None)).projections is None


async def test_disclosure_opens_live_data_and_is_gone_after_the_erasure(world: World) -> None:
    ada = await world.customer()
    event_id = world.personal.event(ada, "CustomerRegistered", name="Ada", email="a@x.io")
    actor = {"subject": "auditor"}
    found = await world.handlers.disclose(event_id, actor)
    assert (found.customer_id, found.fields) == (ada, {"name": "Ada", "email": "a@x.io"})
    with pytest.raises(NotFound):
        await world.handlers.disclose(uuid4(), actor)
    await world.handlers.erase_customer(ada, STAFF)
    with pytest.raises(PersonalDataGone) as gone:
        await world.handlers.disclose(event_id, actor)
    assert "Ada" not in str(gone.value) and "a@x.io" not in str(gone.value)
    outcomes = [(e, outcome) for e, _, outcome in world.personal.audit]
    assert [o for _, o in outcomes] == ["disclosed", "unknown", "erased"]


async def test_data_keys_are_given_for_live_customers_only(world: World) -> None:
    ada, bob = await world.customer("ada@example.com"), await world.customer("bob@example.com")
    await world.handlers.erase_customer(bob, STAFF)
    nobody = uuid4()
    found = await world.handlers.data_keys([ada, bob, nobody, ada])
    assert set(found.keys) == {ada} and len(found.keys[ada]) == 32
    assert (found.erased, found.unknown) == ({bob}, {nobody})
