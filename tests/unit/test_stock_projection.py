"""The stock projection's folds, and what stock and fulfilment change in the order projections:
events built from the contracts, folded as the projections fold them."""

from datetime import UTC, datetime
from typing import Any, get_args
from uuid import UUID, uuid4

import pytest

from services.read.entrypoints.schemas import ProjectionName
from services.read.projections import PROJECTIONS, stock
from services.read.projections.base import Docs, Event, Gap, fold_events
from shared.contracts.events import (
    DomainEvent,
    StockAdjusted,
    StockReceived,
    StockReleased,
    StockReservationRefused,
    StockReserved,
    StockShippedOut,
    stock_stream_id,
)

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
SKU = "APL-1"
ITEM = str(stock_stream_id(SKU))
ORDER = uuid4()


def recorded(stream: str, version: int, event: DomainEvent, actor: str | None = None) -> Event:
    """`event` as the projections see it: its data as the contract serializes it."""
    return Event(
        event_id=f"{stream}-{version}",
        stream_type=event.stream_type,
        stream_id=stream,
        version=version,
        event_type=event.event_type(),
        position=version,
        recorded_at=AT,
        data=event.model_dump(mode="json"),
        actor=actor,
    )


def fold(folds: Any, events: list[Event], healed: dict[str, list[Event]] | None = None) -> Docs:
    docs = Docs()
    fold_events(docs, events, folds, healed or {})
    return docs


def item_history(order: UUID = ORDER) -> list[Event]:
    """A SKU's stock: 10 received, 4 reserved then 6, 2 broken, 6 shipped out, 5 received."""
    levels = {"sku": SKU}
    return [
        recorded(ITEM, n, e)
        for n, e in enumerate(
            [
                StockReceived(**levels, on_hand=10, reserved=0, quantity=10),
                StockReserved(**levels, on_hand=10, reserved=4, order_id=order, quantity=4),
                StockReservationRefused(
                    **levels, on_hand=10, reserved=4, order_id=uuid4(), quantity=7, available=6
                ),
                StockReserved(**levels, on_hand=10, reserved=6, order_id=order, quantity=6),
                StockAdjusted(**levels, on_hand=8, reserved=6, quantity=-2, reason="broken"),
                StockShippedOut(**levels, on_hand=2, reserved=0, order_id=order, quantity=6),
                StockReceived(**levels, on_hand=7, reserved=0, quantity=5),
            ],
            1,
        )
    ]


def item(docs: Docs) -> dict[str, Any]:
    doc = docs.get("main", ITEM)
    assert doc is not None
    return doc


def test_every_projection_is_listed_where_the_api_names_them() -> None:
    assert get_args(ProjectionName) == tuple(PROJECTIONS)
    assert PROJECTIONS["stock"] is stock.PROJECTION


def test_a_stock_document_holds_the_levels_of_the_latest_event() -> None:
    history = item_history()
    shown = [
        {k: v for k, v in item(fold(stock.FOLDS, history[:n])).items() if k != "_id"}
        for n in range(1, len(history) + 1)
    ]
    levels = [(10, 0), (10, 4), (10, 4), (10, 6), (8, 6), (2, 0), (7, 0)]
    assert shown == [
        {"sku": SKU, "on_hand": h, "reserved": r, "available": h - r, "version": n}
        for n, (h, r) in enumerate(levels, 1)
    ]
    assert item(fold(stock.FOLDS, history))["_id"] == ITEM


def test_duplicates_and_older_events_of_an_item_change_nothing() -> None:
    history = item_history()
    docs = Docs()
    applied, skipped = fold_events(docs, [*history, history[3], history[0]], stock.FOLDS, {})
    assert (applied, skipped) == (len(history), 2)
    assert item(docs) == item(fold(stock.FOLDS, history))


def test_a_gap_in_an_items_stream_is_healed_before_its_levels_are_taken() -> None:
    history = item_history()
    with pytest.raises(Gap) as gap:
        fold(stock.FOLDS, [history[0], history[4]])
    assert (gap.value.stream_id, gap.value.have, gap.value.want) == (ITEM, 1, 5)
    healed = fold(stock.FOLDS, [history[0], history[4]], {ITEM: history[1:4]})
    assert item(healed) == item(fold(stock.FOLDS, history[:5]))


def test_a_stream_that_does_not_begin_with_a_receipt_is_refused() -> None:
    released = StockReleased(sku=SKU, on_hand=3, reserved=0, order_id=ORDER, quantity=1)
    with pytest.raises(ValueError, match="never began"):
        fold(stock.FOLDS, [recorded(ITEM, 1, released)])


def test_events_of_other_streams_make_no_stock_document() -> None:
    history = item_history()
    others = [
        Event(**{**e.__dict__, "stream_type": t})
        for e, t in zip(history, ("order", "customer"), strict=False)
    ]
    assert fold(stock.FOLDS, others).changed == {}
