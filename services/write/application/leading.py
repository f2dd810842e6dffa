"""One leader among the replicas: take a term of leadership, work until it is lost or the work
fails, back off, and try again; the relay and the fulfilment process both run this way."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .ports import Leadership


class Backoff:
    """Exponential delays between attempts, reset by a success."""

    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self._first, self._cap, self._delay = first, cap, first

    def next(self) -> float:
        delay, self._delay = self._delay, min(self._delay * 2, self._cap)
        return delay

    def reset(self) -> None:
        self._delay = self._first


async def lead_forever(
    *,
    name: str,
    leaderships: Callable[[], Leadership],
    lead: Callable[[Leadership], Awaitable[None]],
    set_leader: Callable[[bool], None],
    interrupted: Callable[[BaseException], None],
    backoff: Backoff,
    poll_seconds: float,
    log: logging.Logger,
) -> None:
    """Until cancelled: each attempt takes a new Leadership from `leaderships`; while it is
    held, `lead` works; a failure is reported to `interrupted`, then backed off. A replica that
    is not the leader tries again every `poll_seconds` * 5."""
    while True:
        leadership = leaderships()
        try:
            if not await leadership.try_acquire():
                await asyncio.sleep(poll_seconds * 5)
                continue
            set_leader(True)
            log.info("%s leadership acquired", name)
            await lead(leadership)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            interrupted(exc)
            delay = backoff.next()
            log.warning("%s interrupted, retrying in %.1fs: %r", name, delay, exc)
            await asyncio.sleep(delay)
        finally:
            set_leader(False)
            await leadership.release()
