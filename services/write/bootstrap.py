"""The composition root of the write service: real adapters, wired once for every entrypoint
(the HTTP app, the relay run alone, the republish command)."""

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Literal, TypedDict

import asyncpg

from .adapters.blind_index import BlindIndex
from .adapters.customer_keys import CustomerKeys
from .adapters.fulfilment_store import FULFILMENT_LOCK, PostgresFulfilmentStore
from .adapters.history_sealing import PostgresHistorySealer
from .adapters.kafka import KafkaPublisher
from .adapters.keys import KeyCache, LocalKeyWrapper
from .adapters.migrations import migrate
from .adapters.personal_data import PostgresPersonalData
from .adapters.postgres import PostgresEventStore, create_pool
from .adapters.process_queries import PostgresProcessQueries
from .adapters.prometheus import PrometheusExposition, PrometheusRelayObserver
from .adapters.prometheus_process import PrometheusFulfilmentObserver, instances_by_state
from .adapters.read_side import ReadSideErasures
from .adapters.relay_support import PostgresCheckpoints, PostgresLeadership
from .application.fulfilment.ports import FulfilmentInstances, FulfilmentObserver
from .application.fulfilment.runner import FulfilmentPace, FulfilmentRunner
from .application.handlers import CommandHandlers
from .application.personal import PersonalDataHandlers
from .application.personal_ports import ErasureProgress
from .application.ports import (
    BrokerPublisher,
    EventFeed,
    EventLogReader,
    MetricsExposition,
    PersonalData,
)
from .application.processes import ProcessQueries
from .application.relay import RelayPace, RelayRunner, RelayStatus
from .settings import WriteSettings

log = logging.getLogger(__name__)


class WriteService:
    """What the HTTP entrypoints use, each behind a port: the command handlers, the log's
    reads, personal data (keys, erasures, disclosures), the relay's status and the metrics.
    Built by `bootstrap`, torn down by `close`."""

    def __init__(self, settings: WriteSettings, store: PostgresEventStore) -> None:
        self._settings = settings
        self.handlers = CommandHandlers(store, max_attempts=settings.command_attempts)
        self.log: EventLogReader = store
        # Idempotency fingerprints are keyed: a bare hash of a body holding an email could be
        # tested against guesses.
        self.keyed_digest: Callable[..., str] = store.index.digest
        stuck = settings.fulfilment_stuck_seconds
        self.processes: ProcessQueries = PostgresProcessQueries(store.pool, stuck_seconds=stuck)
        self.metrics: MetricsExposition = PrometheusExposition(
            store.max_position, readings=[instances_by_state(self.processes)]
        )
        self.relay_status = RelayStatus()
        self.fulfilment: FulfilmentInstances = PostgresFulfilmentStore(store.pool)
        self.personal: PersonalData = PostgresPersonalData(store.pool, store.keys)
        self._read_side: ErasureProgress = ReadSideErasures(settings.read_service_url)
        self.personal_data = PersonalDataHandlers(self.handlers, self.personal, self._read_side)
        self.fulfilment_status = RelayStatus()
        self._store = store
        self._relay: asyncio.Task[None] | None = None
        self._fulfilment: asyncio.Task[None] | None = None

    def start_relay(self) -> None:
        relaying = relay_runner(self._settings, self._store, self.relay_status).run()
        self._relay = asyncio.create_task(relaying, name="relay")

    def start_fulfilment(self, observer: FulfilmentObserver | None = None) -> None:
        runner = fulfilment_runner(
            self._settings, self._store, self.fulfilment_status, observer=observer
        )
        self._fulfilment = asyncio.create_task(runner.run(), name="fulfilment")

    @property
    def fulfilment_state(self) -> Literal["disabled", "running", "stopped"]:
        """Whether this process runs the fulfilment process (stopped: its task ended)."""
        if self._fulfilment is None:
            return "disabled"
        return "stopped" if self._fulfilment.done() else "running"

    @property
    def relay_state(self) -> Literal["disabled", "running", "stopped"]:
        """Whether this process runs a relay (stopped: its task ended, which it never should)."""
        if self._relay is None:
            return "disabled"
        return "stopped" if self._relay.done() else "running"

    async def close(self) -> None:
        for task in (self._fulfilment, self._relay):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._read_side.close()
        await self._store.close()
        await self._store.pool.close()


async def bootstrap(settings: WriteSettings | None = None) -> WriteService:
    """The HTTP API's service, with its relay unless RELAY_ENABLED is false and its
    fulfilment process unless FULFILMENT_ENABLED is."""
    settings = settings or WriteSettings()
    store = await open_store(settings, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    service = WriteService(settings, store)
    if settings.relay_enabled:
        service.start_relay()
    if settings.fulfilment_enabled:
        service.start_fulfilment(PrometheusFulfilmentObserver())
    return service


async def open_store(
    settings: WriteSettings, *, min_size: int, max_size: int
) -> PostgresEventStore:
    """The event store over a new pool, its schema migrated; the caller closes the pool."""
    pool = await create_pool(settings.dsn, min_size=min_size, max_size=max_size)
    try:
        async with pool.acquire() as conn:
            await migrate(conn, index=BlindIndex(settings.index_key))
    except BaseException:
        await pool.close()
        raise
    return event_store(pool, settings)


class Sealed(TypedDict):
    """What an event store needs to seal personal data and claim emails blindly."""

    keys: CustomerKeys
    index: BlindIndex


def sealed_by(pool: asyncpg.Pool, settings: WriteSettings) -> Sealed:
    """Data keys over `pool`, wrapped by the settings' key-encryption key, and the index key."""
    wrapper = LocalKeyWrapper(settings.kek, settings.pii_kek_id)
    cache = KeyCache(seconds=settings.pii_key_cache_seconds, size=settings.pii_key_cache_size)
    return Sealed(keys=CustomerKeys(pool, wrapper, cache), index=BlindIndex(settings.index_key))


def event_store(pool: asyncpg.Pool, settings: WriteSettings) -> PostgresEventStore:
    """The event store over `pool`, sealing personal data as the settings say."""
    return PostgresEventStore(pool, **sealed_by(pool, settings))


def relay_runner(
    settings: WriteSettings, store: PostgresEventStore, status: RelayStatus | None = None
) -> RelayRunner:
    """The relay of `store`'s log to Kafka, led by whichever replica holds the lock."""
    return RelayRunner(
        feed=store,
        checkpoints=PostgresCheckpoints(store.pool),
        leaderships=functools.partial(PostgresLeadership, settings.dsn),
        publishers=functools.partial(KafkaPublisher, settings),
        pace=RelayPace(
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            linger_seconds=settings.relay_linger_seconds,
        ),
        status=status,
        observer=PrometheusRelayObserver(),
    )


def fulfilment_runner(
    settings: WriteSettings,
    store: PostgresEventStore,
    status: RelayStatus | None = None,
    *,
    observer: FulfilmentObserver | None = None,
) -> FulfilmentRunner:
    """The fulfilment process over `store`'s database, led by whichever replica holds its
    lock (its own, not the relay's: the two may run on different replicas)."""
    return FulfilmentRunner(
        store=PostgresFulfilmentStore(store.pool),
        leaderships=functools.partial(PostgresLeadership, settings.dsn, FULFILMENT_LOCK),
        pace=FulfilmentPace(
            batch_size=settings.fulfilment_batch_size,
            poll_seconds=settings.fulfilment_poll_seconds,
            reservation_ttl_seconds=settings.reservation_ttl_seconds,
            linger_seconds=settings.fulfilment_linger_seconds,
        ),
        observer=observer,
        status=status,
    )


@contextlib.asynccontextmanager
async def standalone_relay(settings: WriteSettings) -> AsyncIterator[RelayRunner]:
    """The relay without the HTTP API, over a small pool of its own."""
    store = await open_store(settings, min_size=1, max_size=4)
    try:
        yield relay_runner(settings, store)
    finally:
        await store.pool.close()


@contextlib.asynccontextmanager
async def republishing(settings: WriteSettings) -> AsyncIterator[tuple[EventFeed, BrokerPublisher]]:
    """What the republish command reads and sends to, over a small pool of its own."""
    pool = await create_pool(settings.dsn, min_size=1, max_size=2)
    try:
        yield event_store(pool, settings), KafkaPublisher(settings)
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def sealing_history(settings: WriteSettings) -> AsyncIterator[PostgresHistorySealer]:
    """What `make encrypt-history` rewrites with, over a small pool of its own (the schema
    migrated first, as at the service's start)."""
    store = await open_store(settings, min_size=1, max_size=3)
    try:
        yield PostgresHistorySealer(store.pool, store.keys)
    finally:
        await store.close()
        await store.pool.close()
