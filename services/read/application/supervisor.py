"""The read service's background work (consumers, the lag monitor, the reader of the shared
state): each piece runs as a task until the service stops it."""

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Supervisor:
    """Starts background tasks, reports any that ends on its own, and stops them all.

    None of the work it runs ever returns: a task that ended did so on an error (logged when it
    happens, and listed by `dead` for readiness).
    """

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_report_death)
        self.tasks.append(task)

    def dead(self) -> list[str]:
        """The names of the tasks that ended without being stopped."""
        return [task.get_name() for task in self.tasks if task.done() and not task.cancelled()]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.tasks.clear()


def _report_death(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s died", task.get_name(), exc_info=task.exception())
    elif not task.cancelled():
        log.error("background task %s ended", task.get_name())
