"""The composition root of the read service: Mongo, Kafka consumers, lag monitor, write API
(with the service's own token). The service and every operator command are wired here."""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from .adapters.collections import Collections
from .adapters.consumer import KafkaRecordSource
from .adapters.control import ControlState, rebuild_running
from .adapters.dead_letters import DeadLetters
from .adapters.lag import LagMonitor
from .adapters.records import decode
from .adapters.tokens import ClientCredentials
from .adapters.versions import MongoVersions
from .adapters.write_api import WriteApi, WriteApiError
from .application.applier import BatchApplier
from .application.rebuild import Progress, Rebuilder
from .application.runner import ProjectionRunner
from .metrics import PAUSED, REBUILD_PROGRESS, start_series
from .projections import PROJECTIONS
from .settings import ReadSettings

log = logging.getLogger(__name__)
# How often a process reads the projections' shared state, and how long what it read is used:
# longer than the refresh, so that the consumers never ask themselves while it runs.
STATE_REFRESH_SECONDS = 2.0
STATE_TTL_SECONDS = 5.0


@dataclass
class Connections:
    """The read side's clients, one of each: MongoDB, and the write API with the service's own
    token. The service and every operator command (services/read/cli.py) build them here."""

    client: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    tokens: ClientCredentials | None
    write_api: WriteApi

    async def close(self) -> None:
        await self.write_api.close()
        if self.tokens is not None:
            await self.tokens.aclose()
        await self.client.close()


@dataclass
class ReadService:
    """Everything the entrypoints need; `close` stops the background work."""

    settings: ReadSettings
    connections: Connections
    control: ControlState
    dead_letters: DeadLetters
    runners: dict[str, ProjectionRunner]
    lag: LagMonitor
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def db(self) -> AsyncDatabase[dict[str, Any]]:
        return self.connections.db

    @property
    def write_api(self) -> WriteApi:
        return self.connections.write_api

    @property
    def max_wait_ms(self) -> int:
        return self.settings.max_wait_ms

    @property
    def cache_max_age(self) -> int:
        return self.settings.cache_max_age_seconds

    def collections(self, projection: str) -> Collections:
        return self.control.cached_collections(projection)

    async def wait_for_order(self, order_id: str, timeout: float) -> None:
        """Return when order_details next writes this order (or after `timeout`); callers
        re-read."""
        await self.runners["order_details"].applied.wait(order_id, timeout)

    async def pause_reason(self, projection: str) -> str | None:
        return await self.control.pause_reason(projection)

    async def order_exists(self, order_id: str, customer_id: str | None = None) -> bool | None:
        """Whether the event store has this order (placed by `customer_id`, when given); None
        when the write service cannot say."""
        try:
            return await self.write_api.stream_exists(order_id, customer_id=customer_id)
        except WriteApiError as exc:
            log.warning("cannot tell whether order %s exists: %s", order_id, exc)
            return None

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_report_death)
        self.tasks.append(task)

    def start(self, *, consume: bool = True) -> None:
        self._spawn(self._refresh_state(), "state")
        if consume:
            for name, runner in self.runners.items():
                self._spawn(runner.run(), f"projection-{name}")
            self._spawn(self.lag.run(), "lag")

    async def _refresh_state(self) -> None:
        """The shared state, read every two seconds in one query: the consumers learn of pauses and
        switches from it, the routes from its cache, and the gauges (an operator's pause, a
        rebuild's progress) come from it."""
        while True:
            with contextlib.suppress(Exception):
                for name, state in (await self.control.refresh(list(self.runners))).items():
                    rebuild = state.get("rebuild") or {}
                    ratio = rebuild.get("ratio", 0.0) if rebuild_running(state) else 0.0
                    REBUILD_PROGRESS.labels(name).set(ratio)
                    PAUSED.labels(name).set(1 if state.get("paused") else 0)
            await asyncio.sleep(STATE_REFRESH_SECONDS)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.connections.close()


def _report_death(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s died", task.get_name(), exc_info=task.exception())


def client_credentials(settings: ReadSettings) -> ClientCredentials | None:
    """The service's own token client (AUTH_CLIENT_ID); None with AUTH_DISABLED: no token."""
    if settings.auth_disabled:
        return None
    if not (settings.auth_issuer and settings.auth_client_id):
        log.warning("no AUTH_ISSUER or AUTH_CLIENT_ID: calls to the write service carry no token")
        return None
    return ClientCredentials(
        settings.auth_issuer,
        settings.auth_client_id,
        settings.auth_client_secret.get_secret_value(),
        audience=settings.auth_audience,
        scope=settings.auth_client_scope,
    )


def connect(settings: ReadSettings) -> Connections:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=5000
    )
    tokens = client_credentials(settings)
    write_api = WriteApi(settings.write_service_url, tokens=tokens)
    return Connections(client, client[settings.mongodb_database], tokens, write_api)


def applier(
    connections: Connections,
    projection: str,
    *,
    control: ControlState,
    attempts: int,
    cache_documents: int = 0,
) -> BatchApplier:
    """One projection's batch applier over MongoDB and the write API."""
    return BatchApplier(
        PROJECTIONS[projection],
        decode=decode,
        versions=MongoVersions(connections.db),
        control=control,
        dead_letters=DeadLetters(connections.db),
        streams=connections.write_api,
        attempts=attempts,
        cache_documents=cache_documents,
    )


def rebuilder(
    connections: Connections,
    settings: ReadSettings,
    *,
    page_size: int,
    on_progress: Callable[[Progress], None],
) -> Rebuilder:
    return Rebuilder(
        MongoVersions(connections.db),
        ControlState(connections.db, ttl=0),
        connections.write_api,
        page_size=page_size,
        on_progress=on_progress,
        buffer_bytes=int(settings.rebuild_buffer_mb * 1_000_000),
    )


def build(settings: ReadSettings | None = None) -> ReadService:
    settings = settings or ReadSettings()
    connections = connect(settings)
    control = ControlState(connections.db, ttl=STATE_TTL_SECONDS)
    dead_letters = DeadLetters(connections.db)

    def open_source(projection: str) -> KafkaRecordSource:
        return KafkaRecordSource(settings, projection)

    runners = {
        name: ProjectionRunner(
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
            dead_letters=dead_letters,
            batch_max_records=settings.batch_max_records,
        )
        for name in PROJECTIONS
    }
    lag = LagMonitor(settings, list(runners))
    start_series(runners)
    return ReadService(settings, connections, control, dead_letters, runners, lag)
