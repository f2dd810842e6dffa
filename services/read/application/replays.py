"""An operator's actions on the projections beyond a pause: dead letters applied again (one, or
all of them) and rebuilds started in this process, as `make dead-letters REPLAY=1` and
`make rebuild-projections` do from a shell."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .status import SharedStates

log = logging.getLogger(__name__)


class DeadLetterStore(Protocol):
    """The dead letters (raises Unavailable when they cannot be read)."""

    async def list(
        self, projection: str | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]: ...

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def remove(self, key: str) -> None: ...

    async def failed_again(self, key: str, error: str) -> None: ...


@dataclass(frozen=True)
class Replayed:
    """What became of one dead letter applied again: gone when applied, kept otherwise."""

    id: str
    projection: str
    applied: bool
    error: str | None = None


class DeadLetterReplays:
    """Dead letters listed, read and applied again; `apply` applies one letter's record to its
    projection once (raising whatever stops it)."""

    def __init__(
        self, store: DeadLetterStore, apply: Callable[[dict[str, Any]], Awaitable[None]]
    ) -> None:
        self.store, self.apply = store, apply

    async def replay(self, letter: dict[str, Any]) -> Replayed:
        key, projection = str(letter["_id"]), str(letter["projection"])
        try:
            await self.apply(letter)
        except Exception as exc:  # noqa: BLE001 - a letter that fails again stays, told why
            error = f"{type(exc).__name__}: {exc}"
            await self.store.failed_again(key, error)
            return Replayed(key, projection, False, error)
        await self.store.remove(key)
        return Replayed(key, projection, True)

    async def replay_all(self, projection: str | None = None) -> list[Replayed]:
        """Every letter (of one projection), oldest first; one failing does not stop the rest."""
        return [await self.replay(letter) for letter in await self.store.list(projection)]


class AlreadyRebuilding(Exception):
    """A rebuild of the projection holds its lock (409)."""


class Rebuilds:
    """Rebuilds started by operators over HTTP, run as tasks of this process. The rebuild's own
    lock keeps it to one per projection across processes; its progress is written where
    GET /projections shows it. A rebuild cut short by a stop is recovered by the next one."""

    def __init__(self, states: SharedStates, start: Callable[[str], Awaitable[Any]]) -> None:
        self.states, self.start = states, start
        self.tasks: dict[str, asyncio.Task[None]] = {}

    async def begin(self, projection: str) -> None:
        """Start a rebuild of `projection`, unless one runs here or anywhere else."""
        shared = await self.states.shared(projection)
        running = self.tasks.get(projection)
        if (running is not None and not running.done()) or shared.rebuilding:
            raise AlreadyRebuilding(f"a rebuild of {projection} is already running")
        self.tasks[projection] = asyncio.create_task(self._run(projection))

    async def _run(self, projection: str) -> None:
        try:
            await self.start(projection)
        except Exception:  # its state says it did not finish; the log says why
            log.exception("the rebuild of %s failed; the active version keeps serving", projection)

    async def close(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
