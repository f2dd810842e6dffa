"""One batch of the process, in one transaction: the order events after the checkpoint, the
due deadlines and the woken instances, each concerned instance in a savepoint of its own, then
the checkpoint. A lost race re-runs an instance on fresh state; any other failure of one
counts an attempt against it (suspended at MAX_ATTEMPTS) while the others go on."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final
from uuid import UUID

from shared.contracts.envelope import Cursor, RecordedEvent
from shared.contracts.events import FULFILMENT, ORDER_ITEM_ADDED, ORDER_PLACED, fulfilment_stream_id

from ...domain.errors import ConcurrencyError
from ...domain.fulfilment import Command, ExpireOrder, Instance, evolve
from ...domain.fulfilment_events import FulfilmentSuspended
from ..ports import Unavailable
from .handling import InstanceHandler, Trigger, current, metadata_for
from .ports import FulfilmentStore, FulfilmentWork

log = logging.getLogger(__name__)

MAX_ATTEMPTS: Final = 3
# Lost races in a row before an instance's turn counts as a failed attempt.
MAX_RACES: Final = 5
MAX_ERROR_LENGTH: Final = 1000


@dataclass
class BatchResult:
    """What a committed batch did, for the runner and its observer."""

    cursor: Cursor
    events: int = 0
    issued: list[Command] = field(default_factory=list)
    expired: list[tuple[datetime, datetime]] = field(default_factory=list)  # (due, fired)
    suspended: list[tuple[UUID, str]] = field(default_factory=list)


def summary(error: BaseException) -> str:
    """An error as an operator reads it: one line, bounded."""
    text = f"{type(error).__name__}: {error}"
    line = "".join(c if c.isprintable() else " " for c in text).strip()
    return line[:MAX_ERROR_LENGTH]


def starts_instance(event: RecordedEvent) -> bool:
    """An order event that needs the process even when the order has no instance yet."""
    if event.event_type == ORDER_PLACED:
        return bool(event.data.get("tracked"))
    return event.event_type == ORDER_ITEM_ADDED and bool(event.data.get("tracked"))


class Batches:
    """Runs batches against the store, with the handler of each instance's turn."""

    def __init__(self, store: FulfilmentStore, handler: InstanceHandler, *, size: int) -> None:
        self._store = store
        self._handler = handler
        self._size = size

    async def run(self, after: Cursor) -> BatchResult:
        """One batch after `after`; its result once committed."""
        async with self._store.work() as work:
            log_batch = await work.order_events(after, self._size)
            triggers = await self._triggers(work, log_batch.events)
            result = BatchResult(cursor=log_batch.next, events=len(log_batch.events))
            for trigger in triggers:
                await self._turn(work, trigger, result)
            if log_batch.next != after:
                await work.save_checkpoint(log_batch.next)
        return result

    async def _triggers(
        self, work: FulfilmentWork, events: Sequence[RecordedEvent]
    ) -> list[Trigger]:
        last: dict[UUID, RecordedEvent] = {}
        starting: set[UUID] = set()
        for event in events:
            last[event.stream_id] = event
            if starts_instance(event):
                starting.add(event.stream_id)
        states = await work.states(list(last)) if last else {}
        triggers = [
            Trigger(order_id, event)
            for order_id, event in last.items()
            if states.get(order_id) == "active" or (order_id in starting and order_id not in states)
        ]
        for awaiting in await work.awaiting(self._size):
            if awaiting.order_id not in last:
                triggers.append(Trigger(awaiting.order_id, woken=awaiting.woken))
        return triggers

    async def _turn(self, work: FulfilmentWork, trigger: Trigger, result: BatchResult) -> None:
        error: Exception = ConcurrencyError("the order or its stock kept moving")
        for _ in range(MAX_RACES):
            try:
                async with work.savepoint():
                    issued = await self._handler.handle(work, trigger)
            except ConcurrencyError as exc:  # fresh state next time round
                error = exc
                continue
            except Unavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - this instance's failure, not the batch's
                error = exc
                break
            result.issued.extend(issued)
            result.expired.extend(
                (c.due_at, work.now) for c in issued if isinstance(c, ExpireOrder)
            )
            return
        await self._failed(work, trigger, error, result)

    async def _failed(
        self, work: FulfilmentWork, trigger: Trigger, error: Exception, result: BatchResult
    ) -> None:
        """Count the attempt (its writes undone); suspend the instance at MAX_ATTEMPTS."""
        reason = summary(error)
        instance = await current(work, trigger.order_id) or Instance(trigger.order_id)
        attempts = instance.attempts + 1
        if attempts < MAX_ATTEMPTS:
            log.warning(
                "fulfilment attempt %d failed for order %s: %s",
                attempts,
                trigger.order_id,
                reason,
                extra={"order_id": str(trigger.order_id), "attempts": attempts, "error": reason},
            )
            await work.failed(replace(instance, attempts=attempts), error=reason)
            return
        instance = await self._suspend(work, trigger, instance, attempts, reason)
        log.error(
            "fulfilment instance of order %s suspended after %d attempts: %s",
            trigger.order_id,
            attempts,
            reason,
            extra={"order_id": str(trigger.order_id), "attempts": attempts, "error": reason},
        )
        await work.failed(instance, error=reason)
        result.suspended.append((trigger.order_id, reason))

    async def _suspend(
        self, work: FulfilmentWork, trigger: Trigger, instance: Instance, attempts: int, error: str
    ) -> Instance:
        """The instance suspended, with its FulfilmentSuspended event when it can be appended
        (the row says it is suspended either way)."""
        event = FulfilmentSuspended(error=error, attempts=attempts, cause=trigger.cause)
        suspended = replace(instance, state="suspended", attempts=attempts, error=error)
        try:
            async with work.savepoint():
                metadata, traceparent = metadata_for(trigger, await work.load(trigger.order_id))
                await work.append(
                    stream_type=FULFILMENT,
                    stream_id=fulfilment_stream_id(trigger.order_id),
                    expected_version=instance.version,
                    events=[event],
                    metadata=metadata.model_copy(update={"traceparent": traceparent}),
                )
        except Unavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - the row alone records the suspension
            log.warning("no FulfilmentSuspended event for %s: %r", trigger.order_id, exc)
            return suspended
        return evolve(instance, event)
