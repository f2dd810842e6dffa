"""The live loop over fakes: batches applied and committed in order while the next is decoded,
nothing applied while paused, and a pause acknowledged only once the batch in flight is written."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from services.read.application import runner as runner_module
from services.read.application.runner import ProjectionRunner
from tests.background import in_background
from tests.polling import poll
from tests.unit.applier_world import World, added, placed
from tests.unit.record_fakes import FakeSource


def until(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return condition()

    return check


def runner(world: World) -> ProjectionRunner:
    @contextlib.asynccontextmanager
    async def open_source(projection: str) -> AsyncIterator[FakeSource]:
        yield world.source

    return ProjectionRunner(
        world.applier,
        open_source=open_source,
        versions=world.versions,
        control=world.control,
        dead_letters=world.dead,
        batch_max_records=100,
    )


async def test_batches_are_applied_and_committed_in_order() -> None:
    world = World()
    world.source.batches = [
        [world.records.of(placed("o1", "c1"))],
        [world.records.of(added("o1", 2))],
        [world.records.of(added("o1", 3))],
    ]
    async with in_background(runner(world).run()):
        await poll(
            until(lambda: world.source.commits[-1:] == [{("orders.events", 0): 3}]),
            "the last batch committed",
            timeout=10,
        )
    committed = [c[("orders.events", 0)] for c in world.source.commits]
    assert committed == sorted(set(committed)) and committed[0] == 1
    assert (world.doc("o1")["version"], world.doc("o1")["item_count"]) == (3, 3)


async def test_what_arrives_while_a_batch_is_written_goes_in_the_next_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner_module, "START_RECORDS", 3)
    monkeypatch.setattr(runner_module, "CHUNK_RECORDS", 2)
    world = World()
    world.source.batches = [
        [world.records.of(placed("o1", "c1"))],
        [world.records.of(added("o1", 2))],
        [world.records.of(added("o1", 3)), world.records.of(placed("o2", "c1"))],
    ]
    written = asyncio.Event()
    save = world.store.save

    async def slow_save(*args: Any) -> None:
        await written.wait()  # MongoDB takes its time over the first batch
        await save(*args)

    world.store.save = slow_save
    async with in_background(runner(world).run()):
        await poll(until(lambda: not world.source.batches), "both later batches polled", timeout=10)
        assert world.source.commits == []
        written.set()
        await poll(until(lambda: len(world.source.commits) == 2), "two commits", timeout=10)
    assert [c[("orders.events", 0)] for c in world.source.commits] == [1, 4]
    # the first batch small, so that writing starts at once; while it is written, the next one
    # is taken a chunk at a time
    assert world.source.asked[:2] == [3, 2]
    assert (world.doc("o1")["version"], world.doc("o2")["version"]) == (3, 1)


async def test_the_next_write_starts_when_the_one_before_it_ends_while_records_are_awaited() -> (
    None
):
    world = World()
    world.source.batches = [
        [world.records.of(placed("o1", "c1"))],
        [world.records.of(added("o1", 2))],
    ]
    written, never = asyncio.Event(), asyncio.Event()
    save = world.store.save

    async def slow_save(*args: Any) -> None:
        await written.wait()
        await save(*args)

    async def nothing_comes(max_records: int) -> list[Any]:
        await never.wait()  # a broker holding the fetch for as long as it may
        return []

    world.store.save = slow_save
    world.source.more = nothing_comes  # type: ignore[method-assign]
    async with in_background(runner(world).run()):
        await poll(until(lambda: not world.source.batches), "the second batch polled", timeout=10)
        written.set()
        await poll(until(lambda: len(world.source.commits) == 2), "both written", timeout=10)
    assert [c[("orders.events", 0)] for c in world.source.commits] == [1, 2]


async def test_a_paused_projection_applies_nothing_and_says_so() -> None:
    world = World()
    world.control.is_paused = True
    world.source.batches = [[world.records.of(placed("o1", "c1"))]]
    async with in_background(runner(world).run()):
        await poll(until(lambda: any(p for _, _, p in world.control.acks)), "paused", timeout=10)
        assert world.source.held and world.source.batches and world.source.commits == []
        world.control.is_paused = False
        await poll(until(lambda: bool(world.source.commits)), "applied once resumed", timeout=10)
    assert world.doc("o1")["version"] == 1 and not world.source.held
