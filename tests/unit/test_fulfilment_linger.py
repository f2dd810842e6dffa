"""The fulfilment runner's pause between batches: taken while the log moves, so that each batch
takes more, and never once it has stopped moving (a new append is then handled at once)."""

import asyncio

import pytest

from services.write.application.fulfilment.runner import FulfilmentPace, FulfilmentRunner
from shared.contracts.events import StockReceived, stock_stream_id
from tests.background import in_background
from tests.polling import poll

from .fakes import FakeElection
from .fulfilment_fakes import FakeFulfilmentStore

LINGER = 0.0123  # told apart from any other sleep by its value


async def test_the_runner_lingers_between_batches_only_while_the_log_moves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, election = FakeFulfilmentStore(), FakeElection()
    pace = FulfilmentPace(batch_size=10, poll_seconds=0.001, linger_seconds=LINGER)
    runner = FulfilmentRunner(store=store, leaderships=election.leadership, pace=pace)
    lingered: list[float] = []
    sleep = asyncio.sleep

    async def recorded(delay: float) -> None:
        lingered.extend([delay] if delay == LINGER else [])
        await sleep(delay)

    async def batches_past(count: int) -> bool:
        return store.batches > count

    monkeypatch.setattr(asyncio, "sleep", recorded)
    async with in_background(runner.run()):
        await poll(lambda: batches_past(0), "a first batch", timeout=5)
        received = StockReceived(sku="A", on_hand=5, reserved=0, quantity=5)
        store.append_now("stock", stock_stream_id("A"), [received])
        before = store.batches
        await poll(lambda: batches_past(before + 2), "the append's batch", timeout=5)
        moved, before = len(lingered), store.batches
        await poll(lambda: batches_past(before + 20), "batches at rest", timeout=5)
    assert moved >= 1 and len(lingered) == moved
