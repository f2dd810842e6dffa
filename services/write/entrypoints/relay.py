"""The relay runner: elect a leader, then publish until cancelled. Also runnable alone:

python -m services.write.entrypoints.relay
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from shared.plumbing.logging import configure_logging

from ..adapters.kafka import KafkaPublisher
from ..adapters.migrations import migrate
from ..adapters.postgres import PostgresEventStore, create_pool
from ..adapters.relay_support import Leadership, PostgresCheckpoints
from ..application.relay import Relay
from ..metrics import PUBLISH_ERRORS, RELAY_LEADER
from ..settings import WriteSettings

log = logging.getLogger(__name__)


class Backoff:
    """Exponential delays between attempts, reset by a success."""

    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self._first, self._cap, self._delay = first, cap, first

    def next(self) -> float:
        delay, self._delay = self._delay, min(self._delay * 2, self._cap)
        return delay

    def reset(self) -> None:
        self._delay = self._first


class LeadershipLost(Exception):
    """The connection holding the relay lock is gone."""


@dataclass
class RelayStatus:
    """What this process's relay is doing, for /health/ready."""

    leader: bool = False

    def lead(self, leading: bool) -> None:
        self.leader = leading
        RELAY_LEADER.set(1 if leading else 0)


async def run_relay(
    settings: WriteSettings, store: PostgresEventStore, status: RelayStatus | None = None
) -> None:
    """Run forever (until cancelled): one active relay among all replicas."""
    status = status or RelayStatus()
    backoff = Backoff()
    while True:
        leadership = Leadership(settings.dsn)
        try:
            if not await leadership.try_acquire():
                await asyncio.sleep(settings.relay_poll_seconds * 5)
                continue
            status.lead(True)
            log.info("relay leadership acquired")
            await _lead(settings, store, leadership, backoff)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            PUBLISH_ERRORS.inc()
            delay = backoff.next()
            log.warning("relay interrupted, retrying in %.1fs: %r", delay, exc)
            await asyncio.sleep(delay)
        finally:
            status.lead(False)
            await leadership.release()


async def _lead(
    settings: WriteSettings, store: PostgresEventStore, leadership: Leadership, backoff: "Backoff"
) -> None:
    publisher = KafkaPublisher(settings)
    relay = Relay(
        store,
        publisher,
        PostgresCheckpoints(store.pool),
        batch_size=settings.relay_batch_size,
    )
    try:
        await relay.connect()
        while True:
            leadership.wakeup.clear()
            published = await relay.publish_pending()
            backoff.reset()
            await relay.update_lag(idle=published < settings.relay_batch_size)
            if published == settings.relay_batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(leadership.wakeup.wait(), settings.relay_poll_seconds)
            if published:  # busy: let the next batch gather (an idle relay wakes at once)
                await asyncio.sleep(settings.relay_linger_seconds)
            await leadership.check()
            if leadership.lost:
                raise LeadershipLost()
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(relay.disconnect(), timeout=5)


async def main() -> None:
    settings = WriteSettings()
    configure_logging(settings.log_level, settings.log_format)
    pool = await create_pool(settings.dsn, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        await run_relay(settings, PostgresEventStore(pool))
    finally:
        await pool.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
