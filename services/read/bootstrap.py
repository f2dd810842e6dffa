"""The composition root of the read service: Mongo, Kafka consumers, lag monitor, write API
(with the service's own token). The service and every operator command are wired here."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .adapters.codec import from_record
from .adapters.consumer import KafkaRecordSource
from .adapters.control import ControlState
from .adapters.dead_letters import DeadLetters, as_delivered
from .adapters.lag import LagMonitor
from .adapters.mongo import ping
from .adapters.prometheus import PrometheusObserver, PrometheusStateObserver
from .adapters.versions import MongoVersions
from .application.applier import BatchApplier
from .application.healing import healer
from .application.operations import ProjectionOperations
from .application.personal import ERASURES, PersonalData
from .application.rebuild import Progress, Rebuilder
from .application.replays import DeadLetterReplays, Rebuilds
from .application.runner import ProjectionRunner
from .application.status import StateObserver, refresh_state
from .application.supervisor import Supervisor
from .connections import Connections, connect
from .metrics import start_series
from .projections import PROJECTIONS
from .queries.facade import ReadQueries
from .queries.orders import Docs
from .settings import ReadSettings

log = logging.getLogger(__name__)
# How long a process uses the projections' shared state it read: longer than the refresh
# (application/status.py), so that the consumers never ask themselves while it runs.
STATE_TTL_SECONDS = 5.0


@dataclass
class ReadService:
    """The read service wired: what the query routes ask (`queries`), what the operations
    routes ask (`operations`), and the background work, which `start` begins and `close`
    stops."""

    queries: ReadQueries
    operations: ProjectionOperations
    supervisor: Supervisor
    connections: Connections
    control: ControlState
    runners: dict[str, ProjectionRunner]
    lag: LagMonitor
    observer: StateObserver
    replays: DeadLetterReplays
    rebuilds: Rebuilds

    def start(self, *, consume: bool = True) -> None:
        names = list(self.runners)
        self.supervisor.spawn(refresh_state(self.control, names, self.observer), "state")
        if consume:
            for name, runner in self.runners.items():
                self.supervisor.spawn(runner.run(), f"projection-{name}")
            self.supervisor.spawn(self.lag.run(), "lag")

    async def close(self) -> None:
        await self.rebuilds.close()
        await self.supervisor.stop()
        await self.connections.close()


def projection_of(connections: Connections, name: str) -> PersonalData:
    """A projection as every path applies it: the personal data of its events opened, its
    erasures marked (application/personal.py)."""
    return PersonalData(PROJECTIONS[name], connections.keys)


def applier(
    connections: Connections,
    projection: str,
    *,
    control: ControlState,
    attempts: int,
    cache_documents: int = 0,
) -> BatchApplier:
    """One projection's batch applier over MongoDB and the write API, observed by Prometheus."""
    return BatchApplier(
        projection_of(connections, projection),
        decode=from_record,
        versions=MongoVersions(connections.db),
        control=control,
        dead_letters=DeadLetters(connections.db),
        heal=healer(connections.write_api),
        attempts=attempts,
        observer=PrometheusObserver(),
        cache_documents=cache_documents,
    )


def rebuilder(
    connections: Connections,
    settings: ReadSettings,
    projection: str,
    *,
    page_size: int,
    on_progress: Callable[[Progress], None],
) -> Rebuilder:
    """One projection's rebuild: the live apply over a buffered store, fed from the write
    service's log, healing gaps the same way; each page's personal values opened while the
    page before is folded."""
    applied = projection_of(connections, projection)
    return Rebuilder(
        applied,
        heal=healer(connections.write_api),
        versions=MongoVersions(connections.db),
        control=ControlState(connections.db, ttl=0),
        log_=connections.write_api,
        observer=PrometheusObserver(),
        page_size=page_size,
        on_progress=on_progress,
        buffer_bytes=int(settings.rebuild_buffer_mb * 1_000_000),
        prepare=applied.open,
    )


def replays(connections: Connections) -> DeadLetterReplays:
    """Dead letters applied again, each once, to the active version of its projection."""

    async def apply(letter: dict[str, Any]) -> None:
        control = ControlState(connections.db, ttl=0)
        once = applier(connections, letter["projection"], control=control, attempts=1)
        await once.replay(as_delivered(letter))

    return DeadLetterReplays(DeadLetters(connections.db), apply)


def rebuilds(connections: Connections, settings: ReadSettings, control: ControlState) -> Rebuilds:
    """Rebuilds an operator starts over HTTP, run in this process as the CLI runs them."""

    async def rebuild(name: str) -> None:
        quiet = rebuilder(connections, settings, name, page_size=2000, on_progress=lambda p: None)
        await quiet.rebuild()

    return Rebuilds(control, rebuild)


def bootstrap(settings: ReadSettings | None = None) -> ReadService:
    """The read service over MongoDB, Kafka and the write API; nothing runs before `start`."""
    settings = settings or ReadSettings()
    connections = connect(settings)
    control = ControlState(connections.db, ttl=STATE_TTL_SECONDS)
    runners = {name: runner(connections, settings, name, control) for name in PROJECTIONS}
    lag = LagMonitor(settings, list(runners))
    supervisor = Supervisor()
    start_series(runners)
    return ReadService(
        queries=queries(connections, settings, control, runners["order_details"]),
        operations=operations(connections, settings, control, runners, lag, supervisor),
        supervisor=supervisor,
        connections=connections,
        control=control,
        runners=runners,
        lag=lag,
        observer=PrometheusStateObserver(),
        replays=replays(connections),
        rebuilds=rebuilds(connections, settings, control),
    )


def runner(
    connections: Connections, settings: ReadSettings, name: str, control: ControlState
) -> ProjectionRunner:
    """One projection's live consumer."""

    def open_source(projection: str) -> KafkaRecordSource:
        return KafkaRecordSource(settings, projection)

    return ProjectionRunner(
        applier(
            connections,
            name,
            control=control,
            attempts=settings.handler_attempts,
            cache_documents=settings.live_cache_documents,
        ),
        open_source=open_source,
        versions=MongoVersions(connections.db),
        control=control,
        dead_letters=DeadLetters(connections.db),
        batch_max_records=settings.batch_max_records,
    )


def queries(
    connections: Connections,
    settings: ReadSettings,
    control: ControlState,
    orders: ProjectionRunner,
) -> ReadQueries:
    """The query routes' reads, over the active version of each projection (looked up on every
    query from the state the service keeps reading: a rebuild may have switched it)."""

    def documents(projection: str) -> Docs:
        return connections.db[control.cached_collections(projection).main]

    def markers(projection: str) -> Docs:
        return connections.db[control.cached_collections(projection).aux(ERASURES)]

    async def wait_for_order(order_id: str, timeout: float) -> None:
        await orders.applied.wait(order_id, timeout)

    return ReadQueries(
        documents=documents,
        markers=markers,
        wait=wait_for_order,
        pause_reason=control.pause_reason,
        streams=connections.write_api,
        max_wait_ms=settings.max_wait_ms,
        cache_max_age=settings.cache_max_age_seconds,
    )


def operations(
    connections: Connections,
    settings: ReadSettings,
    control: ControlState,
    runners: dict[str, ProjectionRunner],
    lag: LagMonitor,
    supervisor: Supervisor,
) -> ProjectionOperations:
    """The operations routes' view of this process's projections."""
    return ProjectionOperations(
        runners=runners,
        lags=lag.lags,
        states=control,
        dead_letters=DeadLetters(connections.db),
        ping=lambda: ping(connections.db),
        dead_tasks=supervisor.dead,
        stall_seconds=settings.stall_seconds,
    )
