"""The projections' status (one model for GET /projections and `make projections`), readiness,
the observer of the shared state, and the supervisor of the background work: over fakes."""

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import REGISTRY

from services.read.adapters.control import shared_state
from services.read.adapters.prometheus import PrometheusStateObserver
from services.read.application.operations import ProjectionOperations
from services.read.application.status import (
    ProjectionStatus,
    SharedState,
    refresh_state,
)
from services.read.application.supervisor import Supervisor
from services.read.entrypoints import ops_schemas
from tests.polling import poll

NOW = datetime(2030, 1, 1, tzinfo=UTC)
REBUILD = {"running": True, "owner": "h:1:ab", "ratio": 0.25, "heartbeat_at": NOW}


@dataclasses.dataclass
class FakeRunnerStatus:
    healthy: bool = True
    last_error: str | None = None
    position: int = 0
    applied: int = 0
    paused: bool = False


@dataclasses.dataclass
class FakeRunner:
    status: FakeRunnerStatus = dataclasses.field(default_factory=FakeRunnerStatus)


@dataclasses.dataclass
class FakeLag:
    measured: bool = True
    events: int = 0
    seconds: float = 0.0
    stuck: bool = False

    def stalled(self, stall_seconds: float) -> bool:
        return self.stuck


class FakeStates:
    """The shared state of each projection, and every refresh asked for."""

    def __init__(self, **states: SharedState) -> None:
        self.states = states
        self.refreshes = 0

    async def shared(self, projection: str) -> SharedState:
        return self.states.get(projection, SharedState())

    async def refresh(self, projections: list[str]) -> Mapping[str, SharedState]:
        self.refreshes += 1
        return {p: await self.shared(p) for p in projections}

    async def set(self, projection: str, **fields: Any) -> None:
        self.states[projection] = dataclasses.replace(await self.shared(projection), **fields)


class FakeDeadLetters:
    def __init__(self, **counts: int) -> None:
        self.counts = counts

    async def count(self, projection: str | None = None) -> int:
        return self.counts.get(projection or "", 0)


class FakeObserver:
    def __init__(self) -> None:
        self.seen: dict[str, SharedState] = {}

    def state_read(self, projection: str, state: SharedState) -> None:
        self.seen[projection] = state


def operations(
    states: FakeStates, *, dead: list[str] | None = None, **runners: FakeRunner
) -> tuple[ProjectionOperations, dict[str, FakeLag]]:
    lags = {name: FakeLag() for name in runners}

    async def ping() -> None:
        return None

    made = ProjectionOperations(
        runners=runners,
        lags=lags,
        states=states,
        dead_letters=FakeDeadLetters(sales=3),
        ping=ping,
        dead_tasks=lambda: dead or [],
        stall_seconds=30.0,
    )
    return made, lags


def rounds(states: FakeStates, wanted: int) -> Callable[[], Awaitable[bool]]:
    async def done() -> bool:
        return states.refreshes >= wanted

    return done


def dead_are(supervisor: Supervisor, names: list[str]) -> Callable[[], Awaitable[bool]]:
    async def done() -> bool:
        return supervisor.dead() == names

    return done


async def test_a_status_is_made_of_the_shared_state_the_runner_the_lag_and_dead_letters() -> None:
    shared = SharedState(active_version=2, position=90, rebuild=REBUILD, rebuilding=True)
    runner = FakeRunnerStatus(healthy=False, last_error="Unavailable: x", position=80, applied=7)
    lag = FakeLag(events=4, seconds=1.23456)
    status = ProjectionStatus.of("sales", shared, runner, lag, dead_letters=3)
    assert (status.state, status.active_version, status.position) == ("rebuilding", 2, 90)
    assert (status.lag_events, status.lag_seconds, status.events_applied) == (4, 1.235, 7)
    assert (status.healthy, status.last_error, status.dead_letters) == (False, "Unavailable: x", 3)
    assert status.without_details().last_error is None
    # What the route serves is what the command reads back.
    assert ProjectionStatus.parse(orjson.loads(orjson.dumps(status))) == dataclasses.replace(
        status, rebuild={**REBUILD, "heartbeat_at": "2030-01-01T00:00:00+00:00"}
    )


def test_the_status_and_its_documentation_name_the_same_fields() -> None:
    documented = list(ops_schemas.ProjectionStatus.model_fields)
    assert [f.name for f in dataclasses.fields(ProjectionStatus)] == documented


def test_a_rebuild_shows_progress_only_while_it_runs() -> None:
    fresh = shared_state({"rebuild": {**REBUILD, "heartbeat_at": datetime.now(UTC)}})
    assert (fresh.rebuilding, fresh.rebuild_ratio) == (True, 0.25)
    lapsed = shared_state(
        {"rebuild": {**REBUILD, "heartbeat_at": datetime(2000, 1, 1, tzinfo=UTC)}}
    )
    assert (lapsed.rebuilding, lapsed.rebuild_ratio, lapsed.rebuild) == (
        False,
        0.0,
        REBUILD | {"heartbeat_at": datetime(2000, 1, 1, tzinfo=UTC)},
    )
    assert shared_state({"paused": True}) == SharedState(paused=True)


async def test_the_state_read_is_reported_to_the_observer_each_round() -> None:
    states = FakeStates(sales=SharedState(paused=True, rebuild=REBUILD, rebuilding=True))
    observer = FakeObserver()
    reading = asyncio.create_task(
        refresh_state(states, ["sales", "customers"], observer, every=0.01)
    )
    try:
        await poll(rounds(states, 2), "two rounds", timeout=5)
    finally:
        reading.cancel()
    assert observer.seen["sales"].paused and observer.seen["sales"].rebuild_ratio == 0.25
    assert observer.seen["customers"] == SharedState()


def test_the_prometheus_observer_sets_the_pause_and_rebuild_gauges() -> None:
    observer = PrometheusStateObserver()
    observer.state_read("sales", SharedState(paused=True, rebuild=REBUILD, rebuilding=True))
    labels = {"projection": "sales"}
    assert REGISTRY.get_sample_value("projection_paused", labels) == 1
    assert REGISTRY.get_sample_value("projection_rebuild_progress_ratio", labels) == 0.25
    observer.state_read("sales", SharedState())
    assert REGISTRY.get_sample_value("projection_paused", labels) == 0
    assert REGISTRY.get_sample_value("projection_rebuild_progress_ratio", labels) == 0


async def test_operations_pause_and_show_every_projection() -> None:
    states = FakeStates()
    ops, _ = operations(states, sales=FakeRunner(), customers=FakeRunner())
    assert await ops.paused() == []
    paused = await ops.set_paused("sales", True)
    assert paused.paused and paused.dead_letters == 3
    assert await ops.paused() == ["sales"]
    assert [s.name for s in await ops.statuses()] == ["sales", "customers"]


async def test_failing_stalled_and_dead_work_are_not_ready() -> None:
    failing = FakeRunner(FakeRunnerStatus(healthy=False, last_error="boom"))
    held = FakeRunner(FakeRunnerStatus(paused=True))
    ops, lags = operations(FakeStates(), sales=failing, customers=FakeRunner(), order_details=held)
    lags["customers"].stuck = lags["order_details"].stuck = True
    lags["customers"].events = 5
    assert ops.not_ready() == [
        "sales: failing, see /projections",
        "customers: stalled with 5 events waiting",
    ]  # a paused projection does not move: that is no stall
    hidden = (await ops.status("sales", details=False)).last_error
    assert (hidden, (await ops.status("sales")).last_error) == (None, "boom")
    dead, _ = operations(FakeStates(), dead=["lag"], sales=FakeRunner())
    assert dead.not_ready() == ["lag: stopped, see the logs"]


async def test_the_supervisor_reports_work_that_died_and_stops_the_rest() -> None:
    supervisor = Supervisor()
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    async def failing() -> None:
        raise RuntimeError("boom")

    supervisor.spawn(forever(), "forever")
    supervisor.spawn(failing(), "failing")
    await poll(dead_are(supervisor, ["failing"]), "the failed task reported", timeout=5)
    await asyncio.wait_for(started.wait(), timeout=5)
    running = supervisor.tasks[0]
    await supervisor.stop()
    assert running.cancelled() and supervisor.dead() == []
