"""The composition root of the write service: real adapters, wired once."""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import asyncpg

from .adapters.migrations import migrate
from .adapters.postgres import PostgresEventStore, create_pool
from .application.handlers import CommandHandlers
from .entrypoints.relay import RelayStatus, run_relay
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
    settings = settings or WriteSettings()
    pool = await create_pool(
        settings.dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
    except BaseException:
        await pool.close()
        raise
    store = PostgresEventStore(pool)
    service = WriteService(
        settings=settings,
        pool=pool,
        store=store,
        handlers=CommandHandlers(store, max_attempts=settings.command_attempts),
    )
    if settings.relay_enabled:
        relaying = run_relay(settings, store, service.relay_status)
        service.relay = asyncio.create_task(relaying, name="relay")
    return service
