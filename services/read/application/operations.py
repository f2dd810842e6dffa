"""What the operations routes ask of the projections: their status, what keeps them from being
ready, and an operator's pause and resume."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from .status import LagReading, ProjectionStatus, RunnerReading, SharedStates


class Running(Protocol):
    """A projection's consumer in this process."""

    @property
    def status(self) -> RunnerReading: ...


class Pausing(SharedStates, Protocol):
    async def set(self, projection: str, **fields: Any) -> None: ...


class DeadLetterCount(Protocol):
    async def count(self, projection: str | None = None) -> int: ...


class ProjectionOperations:
    """The projections of this process as operators see them. Every method may raise
    Unavailable (the shared state or the dead letters cannot be read)."""

    def __init__(
        self,
        *,
        runners: Mapping[str, Running],
        lags: Mapping[str, LagReading],
        states: Pausing,
        dead_letters: DeadLetterCount,
        ping: Callable[[], Awaitable[None]],
        dead_tasks: Callable[[], list[str]],
        stall_seconds: float,
    ) -> None:
        self.runners, self.lags, self.states = runners, lags, states
        self.dead_letters = dead_letters
        self.ping = ping  # MongoDB answers, else Unavailable
        self.dead_tasks = dead_tasks
        self.stall_seconds = stall_seconds

    @property
    def names(self) -> list[str]:
        return list(self.runners)

    async def status(self, name: str, *, details: bool = True) -> ProjectionStatus:
        """The projection's status; `details` keeps its last error (else None)."""
        found = ProjectionStatus.of(
            name,
            await self.states.shared(name),
            self.runners[name].status,
            self.lags[name],
            dead_letters=await self.dead_letters.count(name),
        )
        return found if details else found.without_details()

    async def statuses(self, *, details: bool = True) -> list[ProjectionStatus]:
        return [await self.status(name, details=details) for name in self.runners]

    async def set_paused(self, name: str, paused: bool) -> ProjectionStatus:
        """Pause (or resume) the projection on every replica; its status after."""
        await self.states.set(name, paused=paused)
        return await self.status(name)

    async def paused(self) -> list[str]:
        """The projections an operator paused."""
        return [name for name in self.runners if (await self.states.shared(name)).paused]

    def not_ready(self) -> list[str]:
        """What keeps this process from being ready: a projection failing or stalled (lag not
        moving while events wait and it is not paused), background work that died."""
        problems = []
        for name, runner in self.runners.items():
            status, lag = runner.status, self.lags[name]
            if not status.healthy:  # the error itself only in /projections, for operators
                problems.append(f"{name}: failing, see /projections")
            elif not status.paused and lag.stalled(self.stall_seconds):
                problems.append(f"{name}: stalled with {lag.events} events waiting")
        problems += [f"{task}: stopped, see the logs" for task in self.dead_tasks()]
        return problems
