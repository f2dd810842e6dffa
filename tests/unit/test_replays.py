"""An operator's dead-letter replays and rebuilds: a letter applied leaves, one failing again
stays with its error and one more attempt; a rebuild runs once at a time."""

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from services.read.application.replays import AlreadyRebuilding, DeadLetterReplays, Rebuilds
from services.read.application.status import SharedState


class FakeLetters:
    def __init__(self, *letters: dict[str, Any]) -> None:
        self.letters = {str(letter["_id"]): dict(letter) for letter in letters}

    async def list(self, projection: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        return [dict(v) for v in self.letters.values() if projection in (None, v["projection"])]

    async def get(self, key: str) -> dict[str, Any] | None:
        return self.letters.get(key)

    async def remove(self, key: str) -> None:
        self.letters.pop(key, None)

    async def failed_again(self, key: str, error: str) -> None:
        self.letters[key].update(error=error, attempts=self.letters[key]["attempts"] + 1)


def letter(key: str, projection: str = "customers", *, good: bool = True) -> dict[str, Any]:
    return {"_id": key, "projection": projection, "good": good, "attempts": 3, "error": "old"}


async def apply(found: dict[str, Any]) -> None:
    if not found["good"]:
        raise ValueError("still wrong")


async def test_an_applied_letter_leaves_and_a_failing_one_stays_with_its_error() -> None:
    store = FakeLetters(letter("a"), letter("b", good=False), letter("c", "sales"))
    replays = DeadLetterReplays(store, apply)
    outcomes = await replays.replay_all("customers")
    assert [(o.id, o.applied, o.error) for o in outcomes] == [
        ("a", True, None),
        ("b", False, "ValueError: still wrong"),
    ]
    assert set(store.letters) == {"b", "c"}
    assert store.letters["b"]["attempts"] == 4 and store.letters["b"]["error"] == outcomes[1].error


class FakeStates:
    def __init__(self) -> None:
        self.rebuilding = False

    async def shared(self, projection: str) -> SharedState:
        return SharedState(rebuilding=self.rebuilding)

    async def refresh(self, projections: list[str]) -> Mapping[str, SharedState]:
        return {p: await self.shared(p) for p in projections}


async def test_a_rebuild_runs_once_at_a_time_and_is_stopped_at_close() -> None:
    states, started, release = FakeStates(), [], asyncio.Event()

    async def rebuild(projection: str) -> None:
        started.append(projection)
        await release.wait()

    rebuilds = Rebuilds(states, rebuild)
    await rebuilds.begin("sales")
    with pytest.raises(AlreadyRebuilding):
        await rebuilds.begin("sales")  # running in this process
    await rebuilds.begin("customers")
    await asyncio.sleep(0)
    assert started == ["sales", "customers"]
    states.rebuilding = True
    with pytest.raises(AlreadyRebuilding):
        await rebuilds.begin("stock")  # running in another process
    await rebuilds.close()
    assert all(task.cancelled() for task in rebuilds.tasks.values())


async def test_a_failed_rebuild_does_not_stop_the_next() -> None:
    async def failing(projection: str) -> None:
        raise RuntimeError("the write service is away")

    rebuilds = Rebuilds(FakeStates(), failing)
    await rebuilds.begin("sales")
    await rebuilds.tasks["sales"]
    await rebuilds.begin("sales")
    await rebuilds.close()
