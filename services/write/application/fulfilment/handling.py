"""One instance's turn in a batch: its row and its order read in the batch's transaction, its
rules run until nothing is left to do, each command carried out by the aggregate it names and
appended with that aggregate's expected version, then the process's own events and its row."""

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Final, cast
from uuid import UUID

from shared.contracts.envelope import EventMetadata, RecordedEvent
from shared.contracts.events import FULFILMENT, ORDER, fulfilment_stream_id
from shared.plumbing.tracing import current_traceparent, enabled, span, within

from ...domain.aggregate import Aggregate
from ...domain.fulfilment import Command, Instance, State, evolve
from ...domain.fulfilment_events import DEADLINE, RETRY, Cause, FulfilmentEvent, Stage
from ...domain.fulfilment_outcomes import carry_out, stock_sku, touches_order
from ...domain.fulfilment_rules import decide
from ...domain.order import Order
from ...domain.stock import StockItem
from .ports import FulfilmentWork, History, InstanceRecord
from .stock_cache import StockCache

# Who the process's events say acted.
ACTOR: Final = {"subject": "process:fulfilment"}
# Far more steps than any order needs (a few per line): rules that never settle are a failure.
MAX_STEPS: Final = 5_000


@dataclass(frozen=True)
class Trigger:
    """Why an instance takes a turn: an order event of the log (its order's last in the
    batch), or, without one, its deadline or a wake-up."""

    order_id: UUID
    event: RecordedEvent | None = None
    woken: bool = False

    @property
    def cause(self) -> Cause:
        if self.event is not None:
            return Cause(event=self.event.event_type, version=self.event.version)
        return Cause(event=RETRY if self.woken else DEADLINE)


def restored(record: InstanceRecord) -> Instance:
    """The instance its row is the snapshot of."""
    return Instance(
        order_id=record.order_id,
        rules=record.rules,
        version=record.version,
        state=cast(State, record.state),
        stage=cast(Stage, record.stage),
        reservations=dict(record.reservations),
        deadline_at=record.deadline_at,
        attempts=record.attempts,
        error=record.error,
    )


async def current(work: FulfilmentWork, order_id: UUID) -> Instance | None:
    """The order's instance (locked for the transaction), None when it has no row yet."""
    record = await work.instance(order_id)
    return None if record is None else restored(record)


def metadata_for(trigger: Trigger, order: History) -> tuple[EventMetadata, str | None]:
    """The metadata of what the process appends for `trigger` (without the trace, known inside
    the turn's span), and the traceparent of the event it handles."""
    handled_id = trigger.event.event_id if trigger.event is not None else order.last_id
    handled = trigger.event.metadata if trigger.event is not None else order.last
    metadata = EventMetadata(
        correlation_id=order.first.correlation_id if order.first else None,
        causation_id=None if handled_id is None else str(handled_id),
        actor=dict(ACTOR),
    )
    return metadata, handled.traceparent if handled else None


class InstanceHandler:
    """Takes instances' turns, in the batch's transaction (each inside its savepoint)."""

    def __init__(self, *, ttl: timedelta, stock: StockCache) -> None:
        self._ttl = ttl
        self._stock = stock

    async def handle(self, work: FulfilmentWork, trigger: Trigger) -> list[Command]:
        """Run the order's instance; the commands it carried out (none for an instance that
        is not active, or that an order without tracked lines never started)."""
        known = await current(work, trigger.order_id)
        instance = known or Instance(trigger.order_id)
        if instance.state != "active":
            return []
        history = await work.load(trigger.order_id)
        if history.stream_type != ORDER:
            raise LookupError(f"order {trigger.order_id} does not exist")
        metadata, traceparent = metadata_for(trigger, history)
        attributes = {
            "ordering.order_id": str(trigger.order_id),
            "ordering.cause": trigger.cause.event,
        }
        with within(traceparent), span("fulfilment handle", attributes=attributes):
            trace = current_traceparent() if enabled() else traceparent
            order = Order.rehydrate(trigger.order_id, history.events)
            turn = _Turn(
                work,
                self._stock,
                instance,
                order,
                trigger.cause,
                metadata.model_copy(update={"traceparent": trace}),
            )
            issued = await turn.converge(self._ttl)
            await turn.store(existed=known is not None)
        return issued


class _Turn:
    """The state of one instance's turn: the aggregates it changed and the events it recorded."""

    def __init__(
        self,
        work: FulfilmentWork,
        stock: StockCache,
        instance: Instance,
        order: Order,
        cause: Cause,
        metadata: EventMetadata,
    ) -> None:
        self._work, self._stock = work, stock
        self._instance, self._order = instance, order
        self._cause, self._metadata = cause, metadata
        self._started_at = instance.version
        self._items: dict[str, StockItem] = {}
        self._recorded: list[FulfilmentEvent] = []

    async def converge(self, ttl: timedelta) -> list[Command]:
        issued: list[Command] = []
        now = self._work.now
        while (command := decide(self._instance, self._order, now, ttl)) is not None:
            if len(issued) >= MAX_STEPS:
                raise RuntimeError(f"the rules did not settle after {MAX_STEPS} commands")
            await self._carry_out(command)
            issued.append(command)
        return issued

    async def _carry_out(self, command: Command) -> None:
        sku = stock_sku(command)
        stock = None if sku is None else await self._item(sku)
        event = carry_out(self._instance, command, self._cause, order=self._order, stock=stock)
        if stock is not None:
            await self._append(stock)
        elif touches_order(command):
            await self._append(self._order)
        self._instance = evolve(self._instance, event)
        self._recorded.append(event)

    async def _item(self, sku: str) -> StockItem:
        item = self._items.get(sku)
        if item is None:
            item = self._items[sku] = await self._stock.item(self._work, sku)
        return item

    async def _append(self, aggregate: Aggregate) -> None:
        pending, aggregate.pending = aggregate.pending, []
        if pending:
            await self._work.append(
                stream_type=aggregate.stream_type,
                stream_id=aggregate.id,
                expected_version=aggregate.version - len(pending),
                events=pending,
                metadata=self._metadata,
            )

    async def store(self, *, existed: bool) -> None:
        """The process's events and its row (a row once it has one, even when nothing changed:
        it says the instance has seen its order as it is now)."""
        if self._recorded:
            await self._work.append(
                stream_type=FULFILMENT,
                stream_id=fulfilment_stream_id(self._instance.order_id),
                expected_version=self._started_at,
                events=self._recorded,
                metadata=self._metadata,
            )
        if self._recorded or existed:  # a turn that went through ends a run of failures
            await self._work.save(replace(self._instance, attempts=0, error=None))
        self._stock.keep(self._items.values())
