"""How appends reach the database: queued, then committed in groups that share a transaction."""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from uuid import UUID

from ..application.ports import AppendResult, EmailClaim, ErasureRequest, IdempotencyRecord
from .customer_keys import NewKey

# Appends per group commit at most: one statement's worth of rows stays small.
MAX_BATCH = 64


@dataclass(eq=False)
class PendingAppend:
    """One append waiting to be committed, alone or with others: its events' data and its
    metadata already as JSON text, encoded once each, however often they are sent."""

    stream_type: str
    stream_id: UUID
    expected_version: int
    metadata: str
    traceparent: str | None
    event_ids: list[UUID]
    event_types: list[str]
    schema_versions: list[int]
    data: list[str]
    email: EmailClaim | None
    idempotency: IdempotencyRecord | None
    # The stock streams whose absence the append's decision assumed (SKUs taken as untracked).
    untracked: Sequence[UUID] = ()
    # The customers whose personal data the events hold sealed (nothing is written once one of
    # them is erased), the key made for a customer registering, the erasure this appends.
    subjects: Sequence[UUID] = ()
    new_key: tuple[UUID, NewKey] | None = None
    erasure: ErasureRequest | None = None
    done: "asyncio.Future[AppendResult]" = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def version(self) -> int:
        return self.expected_version + len(self.event_ids)

    def succeed(self, position: int) -> None:
        if not self.done.done():
            self.done.set_result(AppendResult(version=self.version, position=position))

    def fail(self, exc: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


class GroupCommit:
    """Group commit: appends that arrive while others are being committed share a transaction.

    At most `max_in_flight` batches are committed at once. An append that finds a free slot
    goes at once, alone; under load the appends queued meanwhile go together, so a burst of
    commands costs a few commits (and WAL flushes) instead of one each.
    """

    def __init__(
        self, commit: Callable[[list[PendingAppend]], Awaitable[None]], *, max_in_flight: int = 2
    ) -> None:
        self._commit = commit
        self._max_in_flight = max(1, max_in_flight)
        self._in_flight = 0
        self._queue: list[PendingAppend] = []

    async def submit(self, item: PendingAppend) -> AppendResult:
        self._queue.append(item)
        if self._in_flight < self._max_in_flight:
            self._in_flight += 1
            asyncio.get_running_loop().create_task(self._drain(), name="group-commit")
        return await item.done

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                # An append whose caller went away (cancelled) before its turn is not written.
                batch = [item for item in batch if not item.done.done()]
                if not batch:
                    continue
                try:
                    await self._commit(batch)
                except BaseException as exc:
                    for item in batch:
                        item.fail(exc)
                    if not isinstance(exc, Exception):
                        raise
        finally:
            self._in_flight -= 1
