"""What the foreground run hears and says: SIGINT/SIGTERM turned into Shutdown, progress lines."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Shutdown(Exception):
    """A SIGINT or SIGTERM asked us to stop."""


class Signals:
    """SIGINT and SIGTERM handling for the foreground run."""

    # The handler raises to unwind a wait, except while a child is being spawned: an exception
    # there could lose track of a process that has already started.
    def __init__(self) -> None:
        self.pending: int | None = None
        self.deferring = 0

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.pending = signum
        if not self.deferring:
            raise Shutdown

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.deferring += 1
        try:
            yield
        finally:
            self.deferring -= 1
        if self.pending is not None and not self.deferring:
            raise Shutdown


def say(text: str) -> None:
    print(text, flush=True)
