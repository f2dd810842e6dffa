"""A projection's status, made in one place from what every process shares (the projections'
state), what this process runs (its consumer, the lag it measures) and the dead letters.

`GET /projections` serves it and `make projections` prints it as a table; the metrics of the
shared state (a pause, a rebuild's progress) are reported to a `StateObserver`.
"""

import asyncio
import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

# How often a process reads the projections' shared state (its cache lives longer than this).
STATE_REFRESH_SECONDS = 2.0


@dataclass(frozen=True)
class SharedState:
    """One projection's state as every process sees it: the active version, an operator's
    pause, the highest position applied by anyone, and the latest rebuild (running or not)."""

    active_version: int = 1
    paused: bool = False
    position: int = 0
    rebuild: Mapping[str, Any] | None = None  # its lease and progress, as the rebuild wrote them
    rebuilding: bool = False  # a rebuild holds the lock and is alive

    @property
    def rebuild_ratio(self) -> float:
        """The running rebuild's progress (0..1); 0 when none runs."""
        return float((self.rebuild or {}).get("ratio", 0.0)) if self.rebuilding else 0.0


class RunnerReading(Protocol):
    """What this process's consumer of a projection tells about itself."""

    healthy: bool
    last_error: str | None
    position: int
    applied: int
    paused: bool


class LagReading(Protocol):
    """The latest lag measured for a projection."""

    measured: bool
    events: int
    seconds: float

    def stalled(self, stall_seconds: float) -> bool: ...


@dataclass(frozen=True)
class ProjectionStatus:
    """Where one projection stands: served as is by GET /projections (ops_schemas.ProjectionStatus
    documents it), printed by `make projections`."""

    name: str
    state: Literal["live", "rebuilding"]
    paused: bool
    healthy: bool
    last_error: str | None
    active_version: int
    position: int
    lag_measured: bool
    lag_events: int
    lag_seconds: float
    events_applied: int
    dead_letters: int
    rebuild: Mapping[str, Any] | None

    @classmethod
    def of(
        cls,
        name: str,
        shared: SharedState,
        runner: RunnerReading,
        lag: LagReading,
        *,
        dead_letters: int,
    ) -> "ProjectionStatus":
        return cls(
            name=name,
            state="rebuilding" if shared.rebuilding else "live",
            paused=shared.paused,
            healthy=runner.healthy,
            last_error=runner.last_error,
            active_version=shared.active_version,
            position=max(runner.position, shared.position),
            lag_measured=lag.measured,
            lag_events=lag.events,
            lag_seconds=round(lag.seconds, 3),
            events_applied=runner.applied,
            dead_letters=dead_letters,
            rebuild=shared.rebuild or None,
        )

    @classmethod
    def parse(cls, shown: Mapping[str, Any]) -> "ProjectionStatus":
        """The status from its JSON (an answer of GET /projections)."""
        return cls(**{f.name: shown[f.name] for f in dataclasses.fields(cls)})

    def without_details(self) -> "ProjectionStatus":
        """The status for those who may not see errors (an error's text may hold anything)."""
        return dataclasses.replace(self, last_error=None)


class StateObserver(Protocol):
    """Told what the shared state of each projection is, each time it is read."""

    def state_read(self, projection: str, state: SharedState) -> None: ...


class SharedStates(Protocol):
    """The projections' shared state (raises Unavailable when it cannot be read)."""

    async def shared(self, projection: str) -> SharedState: ...

    async def refresh(self, projections: list[str]) -> Mapping[str, SharedState]:
        """Read every projection's state at once, and keep it for whoever asks soon after."""
        ...


async def refresh_state(
    states: SharedStates,
    projections: list[str],
    observer: StateObserver,
    *,
    every: float = STATE_REFRESH_SECONDS,
) -> None:
    """Read the shared state every `every` seconds in one query, until cancelled: consumers
    learn of pauses and switches from what it keeps, the routes too, and the observer is told."""
    while True:
        with contextlib.suppress(Exception):  # MongoDB away: the next round tries again
            for name, state in (await states.refresh(projections)).items():
                observer.state_read(name, state)
        await asyncio.sleep(every)
