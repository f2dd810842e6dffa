"""Serving an HTTP app: uvicorn, quiet at rest, with a garbage collector tuned for requests and
a response in one write."""

import asyncio
import contextlib
import gc
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from .http_protocol import OneWriteHttpToolsProtocol

GC_YOUNG_THRESHOLD = 20_000  # allocations between collections of the youngest generation
TICK_SECONDS = 1.0


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a request-serving process.

    A request allocates thousands of short-lived objects and almost no cycles. With the default
    threshold (700) the collector runs every few requests, and its full collections over a warm
    heap stall every request in flight (they made the write service's p99 three times its
    median). The modules loaded so far are frozen out of the collector's sight for good.
    """
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 100)


class QuietServer(uvicorn.Server):
    """uvicorn's server, waking once a second instead of ten times while nothing happens.

    Its periodic work is the Date header, whose grain is a second anyway, and noticing that it
    was told to stop: a signal now wakes it at once. An idle process costs about a quarter of
    what it did.
    """

    _wake: Callable[[], Any] | None = None

    async def main_loop(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._wake = lambda: loop.call_soon_threadsafe(stop.set)
        ticks = 0  # on_tick refreshes the Date header when this is a multiple of 10
        while not await self.on_tick(ticks):
            ticks = (ticks + 10) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_SECONDS)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._wake is not None:
            self._wake()


def serve(app: Any, *, host: str, port: int, **options: Any) -> None:
    """Run an app until stopped (SIGINT, SIGTERM); by default logging through ours
    (shared.plumbing.logging), without uvicorn's access log, without its proxy headers
    middleware (a service turns it on with its `proxy_headers` setting), and writing each
    response in one piece (shared.plumbing.http_protocol)."""
    tune_gc()
    settings: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
        "proxy_headers": False,
        "http": OneWriteHttpToolsProtocol,
        **options,
    }
    QuietServer(uvicorn.Config(app, host=host, port=port, **settings)).run()
