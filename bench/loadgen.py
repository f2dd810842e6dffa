"""An open-loop load generator: requests start at fixed times whatever the answers do.

Latency is measured from the time a request was *scheduled*, not from when it could be sent, so
a server that stalls is charged for the requests queued behind the stall (no coordinated
omission). A server that cannot keep up at all would make a run last as long as its backlog:
scheduling stops once the backlog exceeds MAX_BACKLOG_SECONDS of requests, and requests still
unanswered DRAIN_SECONDS after the last one was sent are cancelled and reported with their age
(a lower bound of their latency).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .stats import rate as per_second

MAX_BACKLOG_SECONDS = 5.0
DRAIN_SECONDS = 10.0

Job = Callable[[int, float], Awaitable[None]]


@dataclass
class OpenLoopRun:
    """How the schedule was kept: offered rate, what was sent and answered, how late."""

    offered_rate: float
    scheduled: int
    sent: int = 0
    completed: int = 0
    failed: int = 0
    seconds: float = 0.0  # first scheduled time to the last answer (or the cancellation)
    max_start_lag_ms: float = 0.0
    stopped_at_s: float | None = None  # when the backlog made it stop sending, if it did
    unfinished_ages: list[float] = field(default_factory=list)  # seconds, at cancellation
    errors: list[str] = field(default_factory=list)

    @property
    def achieved_rate(self) -> float:
        """Answered requests per second of the run (first schedule to last answer)."""
        return per_second(self.completed + self.failed, self.seconds)

    @property
    def kept_up(self) -> bool:
        return self.stopped_at_s is None and not self.unfinished_ages

    def as_dict(self) -> dict[str, Any]:
        return {
            "offered_rate_per_s": self.offered_rate,
            "scheduled": self.scheduled,
            "sent": self.sent,
            "completed": self.completed,
            "failed": self.failed,
            "unfinished": len(self.unfinished_ages),
            "achieved_rate_per_s": round(self.achieved_rate, 1),
            "max_start_lag_ms": round(self.max_start_lag_ms, 2),
            "stopped_sending_at_s": self.stopped_at_s,
            "first_errors": self.errors[:5],
        }


async def open_loop(rate: float, seconds: float, job: Job) -> OpenLoopRun:
    """Start job(i, scheduled_time) at start + i / rate for i < rate * seconds; await them.

    `scheduled_time` is on time.perf_counter()'s clock; a job raising counts as failed."""
    run = OpenLoopRun(offered_rate=rate, scheduled=int(rate * seconds))
    pending: dict[asyncio.Task[None], float] = {}

    async def guarded(i: int, at: float) -> None:
        try:
            await job(i, at)
            run.completed += 1
        except Exception as exc:
            run.failed += 1
            if len(run.errors) < 20:
                run.errors.append(repr(exc))

    start = time.perf_counter() + 0.01
    while run.sent < run.scheduled:
        now, due = time.perf_counter(), start + run.sent / rate
        if due > now:
            await asyncio.sleep(due - now)
            continue
        if len(pending) > rate * MAX_BACKLOG_SECONDS:
            run.stopped_at_s = round(now - start, 2)
            break
        run.max_start_lag_ms = max(run.max_start_lag_ms, (now - due) * 1000)
        while run.sent < run.scheduled and (at := start + run.sent / rate) <= now:
            task = asyncio.create_task(guarded(run.sent, at))
            pending[task] = at
            task.add_done_callback(lambda t: pending.pop(t, None))
            run.sent += 1
    if pending:
        await asyncio.wait(list(pending), timeout=DRAIN_SECONDS)
    now, unfinished = time.perf_counter(), list(pending.items())
    for task, at in unfinished:
        task.cancel()
        run.unfinished_ages.append(now - at)
    await asyncio.gather(*(task for task, _ in unfinished), return_exceptions=True)
    run.seconds = now - start
    return run


def overload_notes(run: OpenLoopRun, what: str) -> list[str]:
    """Plain words for a run that did not keep up with its schedule."""
    notes = []
    if run.stopped_at_s is not None:
        notes.append(
            f"overloaded: stopped sending {what} after {run.stopped_at_s:.1f} s, with more than"
            f" {MAX_BACKLOG_SECONDS:.0f} s of them unanswered"
            f" ({run.sent} of {run.scheduled} sent)"
        )
    if run.unfinished_ages:
        notes.append(
            f"{len(run.unfinished_ages)} {what} still unanswered {DRAIN_SECONDS:.0f} s after the"
            f" last was sent: cancelled (up to {max(run.unfinished_ages):.1f} s old)"
        )
    return notes


def new_event_loop_runner() -> asyncio.Runner:
    """An asyncio runner on uvloop when it is installed (it is, with uvicorn[standard])."""
    with contextlib.suppress(ImportError):
        import uvloop

        return asyncio.Runner(loop_factory=uvloop.new_event_loop)
    return asyncio.Runner()
