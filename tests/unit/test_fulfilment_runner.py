"""The fulfilment process over a fake store: what it appends and with which metadata, lost
races, poison instances, deadlines on the store's clock, its trace, and its leader loop."""

import logging
from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.write.application.fulfilment.ports import Lag, RetryOutcome
from services.write.application.fulfilment.runner import (
    Fulfilment,
    FulfilmentPace,
    FulfilmentRunner,
)
from services.write.application.relay import Backoff
from shared.contracts.envelope import START, EventMetadata
from shared.contracts.events import (
    OrderPlaced,
    StockReceived,
    fulfilment_stream_id,
    stock_stream_id,
)
from shared.plumbing import tracing
from tests.background import in_background
from tests.polling import poll

from .fakes import FakeElection
from .fulfilment_fakes import FakeFulfilmentStore

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
PLACED_BY = EventMetadata(
    correlation_id="corr-7", traceparent=TRACEPARENT, actor={"subject": "customer-1"}
)
ADDRESS = {"line1": "1 Main St", "city": "Paris", "postal_code": "75001", "country": "FR"}
PROCESS = {"subject": "process:fulfilment"}


class Observed:
    def __init__(self) -> None:
        self.commands: list[str] = []
        self.lateness: list[float] = []
        self.suspended_orders: list[UUID] = []
        self.lags: list[Lag] = []
        self.leader: list[bool] = []
        self.errors: list[BaseException] = []

    def leading(self, leader: bool) -> None:
        self.leader.append(leader)

    def issued(self, command: str) -> None:
        self.commands.append(command)

    def deadline_fired(self, lateness: float) -> None:
        self.lateness.append(lateness)

    def suspended(self, order_id: UUID, error: str) -> None:
        self.suspended_orders.append(order_id)

    def lag(self, lag: Lag) -> None:
        self.lags.append(lag)

    def interrupted(self, error: BaseException) -> None:
        self.errors.append(error)


class Shop:
    def __init__(self, ttl: float = 1800.0) -> None:
        self.store = FakeFulfilmentStore()
        self.observed = Observed()
        pace = FulfilmentPace(batch_size=10, poll_seconds=0.001, reservation_ttl_seconds=ttl)
        self.pace = pace
        self.process = Fulfilment(self.store, pace=pace, observer=self.observed)

    def receive(self, sku: str, quantity: int) -> None:
        event = StockReceived(sku=sku, on_hand=quantity, reserved=0, quantity=quantity)
        self.store.append_now("stock", stock_stream_id(sku), [event])

    def order(self, tracked: bool = True, **lines: int) -> UUID:
        order_id = uuid4()
        items = [
            {"sku": s, "name": s, "quantity": q, "unit_price": "1.00"} for s, q in lines.items()
        ]
        placed = OrderPlaced.model_validate(
            {"customer_id": uuid4(), "items": items, "shipping_address": ADDRESS}
            | {"currency": "EUR", "total": Decimal(sum(lines.values()))}
            | {"tracked": sorted(lines) if tracked else []}
        )
        self.store.append_now("order", order_id, [placed], PLACED_BY)
        return order_id


async def test_a_tracked_order_is_reserved_and_every_append_names_the_process() -> None:
    shop = Shop()
    shop.receive("A", 5)
    order_id = shop.order(A=2)
    await shop.process.catch_up()
    assert shop.store.types(order_id) == ["OrderPlaced", "OrderStockReserved"]
    assert shop.store.types(stock_stream_id("A")) == ["StockReceived", "StockReserved"]
    placed = shop.store.stored(order_id)[0]
    appended = [
        *shop.store.stored(order_id)[1:],
        *shop.store.stored(stock_stream_id("A"))[1:],
        *shop.store.stored(fulfilment_stream_id(order_id)),
    ]
    assert len(appended) == 6
    for stored in appended:
        assert stored.metadata.actor == PROCESS
        assert stored.metadata.causation_id == str(placed.event_id)
        assert stored.metadata.correlation_id == "corr-7"
        assert stored.metadata.traceparent == TRACEPARENT  # tracing off: passed on as it came
    row = await shop.store.get(order_id)
    assert row is not None and (row.state, row.stage, row.version) == ("active", "reserved", 4)
    assert shop.observed.commands == ["start", "reserve", "mark_reserved", "set_deadline"]
    assert shop.store.db.checkpoint == shop.store.db.log[-1].cursor


async def test_an_order_without_tracked_lines_costs_no_instance() -> None:
    shop = Shop()
    order_id = shop.order(tracked=False, U=1)
    await shop.process.catch_up()
    assert await shop.store.get(order_id) is None
    assert shop.store.types(fulfilment_stream_id(order_id)) == []
    assert shop.store.db.checkpoint != START


async def test_lost_races_rerun_the_instance_on_fresh_state() -> None:
    shop = Shop()
    shop.receive("A", 5)
    order_id = shop.order(A=2)
    shop.store.conflicts = 3
    await shop.process.catch_up()
    assert shop.store.types(stock_stream_id("A")) == ["StockReceived", "StockReserved"]
    row = await shop.store.get(order_id)
    assert row is not None and (row.stage, row.attempts) == ("reserved", 0)


async def test_a_failed_attempt_is_tried_again_and_a_success_clears_it() -> None:
    shop = Shop()
    shop.receive("A", 5)
    order_id = shop.order(A=2)
    shop.store.refuse.add(stock_stream_id("A"))
    await shop.process.step()
    row = await shop.store.get(order_id)
    assert row is not None and (row.state, row.attempts, row.wake) == ("active", 1, True)
    assert shop.store.types(fulfilment_stream_id(order_id)) == [], "its writes were undone"
    shop.store.refuse.clear()
    await shop.process.step()  # woken: no new order event needed
    row = await shop.store.get(order_id)
    assert row is not None and (row.stage, row.attempts, row.error, row.wake) == (
        "reserved",
        0,
        None,
        False,
    )


async def test_a_failing_instance_is_suspended_after_three_attempts_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shop = Shop()
    shop.receive("A", 5)
    shop.receive("P", 5)
    poisoned, healthy = shop.order(P=1), shop.order(A=2)
    shop.store.refuse.add(stock_stream_id("P"))
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            await shop.process.step()
    row = await shop.store.get(poisoned)
    assert row is not None and (row.state, row.attempts, row.wake) == ("suspended", 3, False)
    assert row.error is not None and "refused" in row.error
    assert shop.store.types(fulfilment_stream_id(poisoned)) == ["FulfilmentSuspended"]
    assert shop.observed.suspended_orders == [poisoned]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and str(poisoned) in errors[0].getMessage()
    assert shop.store.types(healthy)[-1] == "OrderStockReserved"

    shop.store.refuse.clear()
    assert await shop.store.retry(healthy, by="op") is RetryOutcome.NOT_SUSPENDED
    assert await shop.store.retry(poisoned, by="op") is RetryOutcome.RETRIED
    await shop.process.step()
    assert shop.store.types(poisoned)[-1] == "OrderStockReserved"
    assert shop.store.types(fulfilment_stream_id(poisoned))[:3] == [
        "FulfilmentSuspended",
        "FulfilmentRetried",
        "FulfilmentStarted",
    ]


async def test_a_deadline_fires_on_the_stores_clock_and_reports_its_lateness() -> None:
    shop = Shop(ttl=60)
    shop.receive("A", 5)
    order_id = shop.order(A=2)
    await shop.process.catch_up()
    shop.store.clock.advance(timedelta(seconds=59))
    await shop.process.step()
    assert shop.store.types(order_id)[-1] == "OrderStockReserved", "not due yet"
    shop.store.clock.advance(timedelta(seconds=3))
    await shop.process.step()
    assert shop.store.types(order_id)[-1] == "OrderCancelled"
    assert shop.store.types(stock_stream_id("A"))[-1] == "StockReleased"
    assert shop.observed.lateness == [2.0]
    await shop.process.catch_up()
    assert shop.store.types(order_id).count("OrderCancelled") == 1


async def test_a_reset_checkpoint_finds_converged_instances_and_issues_nothing() -> None:
    shop = Shop()
    shop.receive("A", 5)
    shop.order(A=2)
    await shop.process.catch_up()
    events = len(shop.store.db.log)
    shop.store.db.checkpoint = START
    await Fulfilment(shop.store, pace=shop.pace).catch_up()
    assert len(shop.store.db.log) == events


async def test_each_turn_runs_in_a_span_under_the_handled_events_trace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(tracing, "_TRACER", provider.get_tracer("test"))
    monkeypatch.setattr(tracing, "_ON", True)
    shop = Shop()
    shop.receive("A", 5)
    order_id = shop.order(A=2)
    await shop.process.catch_up()
    turns = [s for s in exporter.get_finished_spans() if s.name == "fulfilment handle"]
    # the turn of OrderPlaced, then one of the process's own OrderStockReserved (nothing to do)
    assert len(turns) == 2
    handled = turns[0]
    assert {f"{s.context.trace_id:032x}" for s in turns} == {TRACEPARENT.split("-")[1]}
    assert handled.parent is not None and f"{handled.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert turns[1].parent is not None and turns[1].parent.span_id == handled.context.span_id
    expected = f"00-{handled.context.trace_id:032x}-{handled.context.span_id:016x}-01"
    for stored in shop.store.stored(order_id)[1:]:
        assert stored.metadata.traceparent == expected


async def test_the_runner_leads_alone_and_a_new_term_resumes_from_the_checkpoint() -> None:
    shop = Shop()
    shop.receive("A", 10)
    election = FakeElection()
    runner = FulfilmentRunner(
        store=shop.store,
        leaderships=election.leadership,
        pace=shop.pace,
        observer=shop.observed,
        backoff=Backoff(first=0.001, cap=0.002),
    )
    first = shop.order(A=2)
    async with in_background(runner.run()):
        await poll(lambda: shop.store.get(first), "the first order's instance", timeout=5)
        assert runner.status.leader
        leader = election.leader
        assert leader is not None
        leader.depose()

        async def new_term() -> bool:
            return election.terms[-1].held and election.terms[-1] is not leader

        await poll(new_term, "a new term", timeout=5)
        second = shop.order(A=3)
        election.terms[-1].wake()
        await poll(lambda: shop.store.get(second), "the second order's instance", timeout=5)
    assert shop.store.types(stock_stream_id("A")).count("StockReserved") == 2
    assert shop.observed.leader[:3] == [True, False, True]
    assert shop.observed.lags
