"""The fulfilment process where things go wrong, on real PostgreSQL: a batch cancelled between
its statements, two processes racing, appends racing the process on a stock stream, an
instance whose writes keep failing (suspended, then retried)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from services.write.adapters.fulfilment_store import FULFILMENT_LOCK, PostgresFulfilmentStore
from services.write.adapters.fulfilment_work import PostgresFulfilmentWork
from services.write.adapters.postgres import PostgresEventStore
from services.write.application.fulfilment.ports import RetryOutcome
from services.write.application.fulfilment.runner import Fulfilment, FulfilmentPace
from services.write.domain.commands import AdjustStock
from services.write.domain.errors import StockRule
from services.write.domain.order import StockState
from shared.contracts.events import fulfilment_stream_id
from tests.background import in_background
from tests.polling import poll

from .fulfilment_shop import CTX, Shop, reservations_of


@pytest.fixture
def shop(store: PostgresEventStore, pg_database: str) -> Shop:
    return Shop(store, pg_database)


class Tripwire:
    """A batch's work that cancels the task running it at its `at`-th statement."""

    def __init__(self, work: PostgresFulfilmentWork, at: int) -> None:
        self._work, self._at, self.statements = work, at, 0

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._work, name)
        if name in ("now", "savepoint", "appended") or not callable(found):
            return found

        async def statement(*args: Any, **kwargs: Any) -> Any:
            self.statements += 1
            if self.statements == self._at:
                task = asyncio.current_task()
                assert task is not None
                task.cancel()
                await asyncio.sleep(0)  # cancelled here, between two statements
            return await found(*args, **kwargs)

        return statement


class CancelledAt(PostgresFulfilmentStore):
    def __init__(self, pool: asyncpg.Pool, at: int) -> None:
        super().__init__(pool)
        self._at = at

    @contextlib.asynccontextmanager
    async def work(self) -> AsyncIterator[Any]:
        async with super().work() as work:
            yield Tripwire(work, self._at)


async def assert_reserved_once(shop: Shop, orders: list[UUID], sku: str, each: int) -> None:
    counts = await reservations_of(shop, sku, orders)
    assert set(counts.values()) <= {0, 1}, counts
    item = await shop.stock(sku)
    assert all(item.reservations.get(o, each) == each for o in orders)


async def test_a_batch_cancelled_between_any_two_statements_never_double_reserves(
    shop: Shop,
) -> None:
    await shop.receive("A", 10)
    await shop.receive("B", 10)
    orders = [await shop.order(A=2, B=1) for _ in range(3)]
    for at in range(1, 200):
        process = Fulfilment(CancelledAt(shop.pool, at), pace=FulfilmentPace(batch_size=100))
        outcome = (await asyncio.gather(process.catch_up(), return_exceptions=True))[0]
        await assert_reserved_once(shop, orders, "A", 2)
        if not isinstance(outcome, asyncio.CancelledError):
            assert outcome is None
            break
        assert await shop.levels("A") == (10, 0), "a cancelled batch leaves nothing behind"
    else:
        raise AssertionError("the batch was cancelled at every statement")
    await shop.process().catch_up()
    assert await reservations_of(shop, "A", orders) == dict.fromkeys(orders, 1)
    assert await shop.levels("A") == (10, 6) and await shop.levels("B") == (10, 3)


async def test_two_processes_racing_never_double_reserve(shop: Shop) -> None:
    await shop.receive("A", 20)
    orders: list[UUID] = []
    first, second = shop.process(batch_size=3), shop.process(batch_size=3)
    for _ in range(4):
        orders += [await shop.order(A=2) for _ in range(2)]
        await asyncio.gather(first.catch_up(), second.catch_up())
    await shop.process().catch_up()
    assert await reservations_of(shop, "A", orders) == dict.fromkeys(orders, 1)
    assert await shop.levels("A") == (20, 16)
    for order_id in orders:
        assert (await shop.the_order(order_id)).stock_state is StockState.RESERVED
        assert (await shop.instance(order_id)).attempts == 0


async def test_a_runner_that_loses_its_lock_stops_and_the_next_leader_goes_on(shop: Shop) -> None:
    await shop.receive("A", 20)
    runners = [shop.runner(), shop.runner()]

    async def reserved(orders: list[UUID]) -> bool:
        found = [await shop.instances.get(o) for o in orders]
        return all(r is not None and r.stage == "reserved" for r in found)

    async def leading() -> bool:
        return [r.status.leader for r in runners].count(True) == 1

    async with in_background(runners[0].run()), in_background(runners[1].run()):
        first = [await shop.order(A=2) for _ in range(3)]
        await poll(lambda: reserved(first), "the first orders reserved", timeout=30)
        assert await leading()
        await shop.pool.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks"
            " WHERE locktype = 'advisory' AND objid = $1 AND granted",
            FULFILMENT_LOCK,
        )

        async def taken_over() -> bool:  # the leader noticed and a new term began
            return shop.observed.leader.count(True) == 2

        await poll(taken_over, "a new leader", timeout=30)
        second = [await shop.order(A=2) for _ in range(3)]
        await poll(lambda: reserved(second), "the other orders reserved", timeout=30)
        assert await leading()
    assert await reservations_of(shop, "A", first + second) == dict.fromkeys(first + second, 1)
    assert await shop.levels("A") == (20, 12)


async def test_adjustments_racing_the_process_never_over_reserve(shop: Shop) -> None:
    await shop.receive("A", 12)
    orders = [await shop.order(A=2) for _ in range(6)]

    async def adjust() -> int:
        done = 0
        for _ in range(6):
            with contextlib.suppress(StockRule):
                adjusting = AdjustStock(quantity=-1, reason="breakage")
                await shop.handlers.adjust_stock("A", adjusting, CTX)
                done += 1
            await asyncio.sleep(0)
        return done

    adjusted, _ = await asyncio.gather(adjust(), shop.process(batch_size=1).catch_up())
    await shop.process().catch_up()
    item = await shop.stock("A")  # asserts 0 <= reserved <= on hand
    assert item.on_hand == 12 - adjusted
    for order_id in orders:
        state = (await shop.the_order(order_id)).stock_state
        held = item.reservations.get(order_id, 0)
        assert (state, held) in ((StockState.RESERVED, 2), (StockState.PENDING, 0))
        assert (await shop.instance(order_id)).stage in ("reserved", "rejected")
    assert item.reserved == 2 * len(item.reservations)


FAIL_FOR_ORDER = """
CREATE FUNCTION refuse_stock_of_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.stream_type = 'stock' AND NEW.data->>'order_id' = '{order_id}' THEN
        RAISE EXCEPTION 'the warehouse refuses this order';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_stock_of_order BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION refuse_stock_of_order();
"""


async def test_an_instance_that_keeps_failing_is_suspended_then_retried(shop: Shop) -> None:
    await shop.receive("A", 10)
    poisoned, healthy = await shop.order(A=1), await shop.order(A=2)
    await shop.pool.execute(FAIL_FOR_ORDER.format(order_id=poisoned))
    process = shop.process()
    for _ in range(10):
        await process.step()
        if (await shop.instance(poisoned)).state == "suspended":
            break
    suspended = await shop.instance(poisoned)
    assert (suspended.state, suspended.attempts, suspended.wake) == ("suspended", 3, False)
    assert suspended.error is not None and "the warehouse refuses this order" in suspended.error
    assert await shop.process_types(poisoned) == ["FulfilmentSuspended"]
    assert [o for o, _ in shop.observed.suspensions] == [poisoned]
    assert await shop.levels("A") == (10, 2), "the other order went through"
    await process.step()
    assert (await shop.instance(poisoned)).attempts == 3, "a suspended instance waits"

    assert await shop.instances.retry(healthy, by="operator-7") is RetryOutcome.NOT_SUSPENDED
    assert await shop.instances.retry(uuid4(), by="operator-7") is RetryOutcome.UNKNOWN
    await shop.pool.execute("DROP TRIGGER refuse_stock_of_order ON events")
    assert await shop.instances.retry(poisoned, by="operator-7") is RetryOutcome.RETRIED
    retried = await shop.instance(poisoned)
    assert (retried.state, retried.attempts, retried.error, retried.wake) == (
        "active",
        0,
        None,
        True,
    )
    await process.catch_up()
    assert await shop.levels("A") == (10, 3)
    assert (await shop.instance(poisoned)).stage == "reserved"
    rows = await shop.rows(fulfilment_stream_id(poisoned))
    assert [r["event_type"] for r in rows][:3] == [
        "FulfilmentSuspended",
        "FulfilmentRetried",
        "FulfilmentStarted",
    ]
    assert rows[1]["data"]["by"] == "operator-7"
    assert rows[1]["metadata"]["actor"] == {"subject": "operator-7"}
