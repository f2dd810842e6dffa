"""The fulfilment process's runner: one leader among the replicas (its own advisory lock), batch
after batch from its checkpoint, woken by the appends' NOTIFY, polling as a fallback (which is
also when due deadlines are found), backing off when the database fails."""

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from shared.contracts.envelope import START, Cursor

from ..leading import Backoff, lead_forever
from ..ports import Leadership
from ..relay import LeadershipLost, RelayStatus
from .batch import Batches, BatchResult
from .handling import InstanceHandler
from .ports import FulfilmentObserver, FulfilmentStore, Lag
from .stock_cache import StockCache

log = logging.getLogger(__name__)


class Unobserved:
    """A FulfilmentObserver that drops every report (where nobody watches: a test, a tool)."""

    def leading(self, leader: bool) -> None:
        pass

    def issued(self, command: str) -> None:
        pass

    def deadline_fired(self, lateness: float) -> None:
        pass

    def suspended(self, order_id: UUID, error: str) -> None:
        pass

    def lag(self, lag: Lag) -> None:
        pass

    def interrupted(self, error: BaseException) -> None:
        pass


@dataclass(frozen=True)
class FulfilmentPace:
    """How much the process takes at once, how long it waits, and how long stock is held
    for an unconfirmed order."""

    batch_size: int = 500
    # The longest wait for a wake-up (so the latest a due deadline fires); five times this
    # between attempts to become the leader.
    poll_seconds: float = 1.0
    reservation_ttl_seconds: float = 1800.0
    # While the log keeps moving, the wait between batches, so that each takes more: every
    # batch costs its transaction's statements, however little it finds.
    linger_seconds: float = 0.01


class Fulfilment:
    """The process without its leadership: batches from the checkpoint until caught up."""

    def __init__(
        self,
        store: FulfilmentStore,
        *,
        pace: FulfilmentPace | None = None,
        observer: FulfilmentObserver | None = None,
    ) -> None:
        self._store = store
        self._pace = pace or FulfilmentPace()
        self._observer: FulfilmentObserver = observer or Unobserved()
        self._stock = StockCache()
        ttl = timedelta(seconds=self._pace.reservation_ttl_seconds)
        handler = InstanceHandler(ttl=ttl, stock=self._stock)
        self._batches = Batches(store, handler, size=self._pace.batch_size)
        self._cursor: Cursor | None = None
        self._lag_at = 0.0

    async def step(self) -> BatchResult:
        """One batch from where the last one ended (the checkpoint, at first)."""
        if self._cursor is None:
            self._cursor = await self._store.checkpoint()
        try:
            result = await self._batches.run(self._cursor)
        except BaseException:
            self._stock.clear()  # rolled back: what the items hold was never stored
            raise
        self._cursor = result.cursor
        self._report(result)
        return result

    async def catch_up(self) -> None:
        """Batches until one finds no order event left in the log (the process's own appends
        to orders included)."""
        while (await self.step()).events:
            pass

    def forget_position(self) -> None:
        """Read the checkpoint again before the next batch (a new term: another replica may
        have moved it)."""
        self._cursor = None

    async def update_lag(self, *, idle: bool) -> None:
        """Count what is left: whenever idle, else once a second (as the relay does)."""
        if not idle and time.monotonic() - self._lag_at < 1.0:
            return
        self._observer.lag(await self._store.lag(self._cursor or START))
        self._lag_at = time.monotonic()

    def _report(self, result: BatchResult) -> None:
        for command in result.issued:
            self._observer.issued(command.name)
        for due, fired in result.expired:
            self._observer.deadline_fired(max(0.0, (fired - due).total_seconds()))
        for order_id, error in result.suspended:
            self._observer.suspended(order_id, error)


class FulfilmentRunner:
    """Runs forever (until cancelled): the process on one replica at a time. Each attempt to
    lead takes a new Leadership from the factory."""

    def __init__(
        self,
        *,
        store: FulfilmentStore,
        leaderships: Callable[[], Leadership],
        pace: FulfilmentPace | None = None,
        observer: FulfilmentObserver | None = None,
        backoff: Backoff | None = None,
        status: RelayStatus | None = None,
    ) -> None:
        self._pace = pace or FulfilmentPace()
        self._observer: FulfilmentObserver = observer or Unobserved()
        self.process = Fulfilment(store, pace=self._pace, observer=self._observer)
        self._leaderships = leaderships
        self._backoff = backoff or Backoff()
        self.status = status or RelayStatus()

    async def run(self) -> None:
        await lead_forever(
            name="fulfilment",
            leaderships=self._leaderships,
            lead=self._lead,
            set_leader=self._set_leader,
            interrupted=self._observer.interrupted,
            backoff=self._backoff,
            poll_seconds=self._pace.poll_seconds,
            log=log,
        )

    def _set_leader(self, leading: bool) -> None:
        self.status.lead(leading)
        self._observer.leading(leading)

    async def _lead(self, leadership: Leadership) -> None:
        self.process.forget_position()
        cursor = None
        while True:
            leadership.clear_wakeup()
            result = await self.process.step()
            self._backoff.reset()
            full = result.events == self._pace.batch_size
            await self.process.update_lag(idle=not full)
            if not full:
                await leadership.wait_for_wakeup(self._pace.poll_seconds)
                if result.cursor != cursor:  # busy: let the next batch gather (idle: at once)
                    await asyncio.sleep(self._pace.linger_seconds)
            cursor = result.cursor
            await leadership.check()
            if leadership.lost:
                raise LeadershipLost()
