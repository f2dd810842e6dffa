"""The composition root of the write service: real adapters, wired once for every entrypoint
(the HTTP app, the relay run alone, the republish command)."""

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg

from .adapters.kafka import KafkaPublisher
from .adapters.migrations import migrate
from .adapters.postgres import PostgresEventStore, create_pool
from .adapters.relay_support import Leadership, PostgresCheckpoints
from .application.handlers import CommandHandlers
from .application.ports import BrokerPublisher, EventFeed
from .application.relay import RelayPace, RelayRunner, RelayStatus
from .settings import WriteSettings

log = logging.getLogger(__name__)


@dataclass
class WriteService:
    """Everything the entrypoints need, built by `bootstrap` and torn down by `close`."""

    settings: WriteSettings
    pool: asyncpg.Pool
    store: PostgresEventStore
    handlers: CommandHandlers
    relay: asyncio.Task[None] | None = None
    relay_status: RelayStatus = field(default_factory=RelayStatus)

    async def close(self) -> None:
        if self.relay is not None:
            self.relay.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.relay
        await self.store.close()
        await self.pool.close()


async def bootstrap(settings: WriteSettings | None = None) -> WriteService:
    """The HTTP API's service, with its relay unless RELAY_ENABLED is false."""
    settings = settings or WriteSettings()
    store = await open_store(settings, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    service = WriteService(
        settings=settings,
        pool=store.pool,
        store=store,
        handlers=CommandHandlers(store, max_attempts=settings.command_attempts),
    )
    if settings.relay_enabled:
        relaying = relay_runner(settings, store, service.relay_status).run()
        service.relay = asyncio.create_task(relaying, name="relay")
    return service


async def open_store(
    settings: WriteSettings, *, min_size: int, max_size: int
) -> PostgresEventStore:
    """The event store over a new pool, its schema migrated; the caller closes the pool."""
    pool = await create_pool(settings.dsn, min_size=min_size, max_size=max_size)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
    except BaseException:
        await pool.close()
        raise
    return PostgresEventStore(pool)


def relay_runner(
    settings: WriteSettings, store: PostgresEventStore, status: RelayStatus | None = None
) -> RelayRunner:
    """The relay of `store`'s log to Kafka, led by whichever replica holds the lock."""
    return RelayRunner(
        feed=store,
        checkpoints=PostgresCheckpoints(store.pool),
        leaderships=functools.partial(Leadership, settings.dsn),
        publishers=functools.partial(KafkaPublisher, settings),
        pace=RelayPace(
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
            linger_seconds=settings.relay_linger_seconds,
        ),
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
        yield PostgresEventStore(pool), KafkaPublisher(settings)
    finally:
        await pool.close()
