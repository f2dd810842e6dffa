"""The projections over the history with stock: the live consumers' documents (from the Kafka
records) are document for document those of a rebuild from the write service's feed (which
holds the fulfilment process's own rows too), whatever the interleaving, duplicates or gaps;
and they hold the values worked out by hand, and those of the reference model."""

from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from services.read.adapters.control import ControlState
from services.read.adapters.versions import MongoVersions
from services.read.adapters.write_api import WriteApi
from services.read.application.healing import healer
from services.read.application.rebuild import Rebuilder
from services.read.projections.base import Event
from services.read.queries.orders import public
from tests.integration.projections.projecting import (
    Arrange,
    Databases,
    Doc,
    Snapshot,
    as_version,
    assert_same,
    batched,
    each_batch_twice,
    each_event_twice_in_its_batch,
    feed,
    orders_first,
    project,
    projections,
    random_merge,
    whole_history_twice,
)
from tests.integration.projections.stock_history import PROCESS, StockHistory
from tests.read_side import FIRST_VERSION_COLLECTIONS, snapshot
from tests.reference import ReferenceModel
from tests.unit.read_fakes import FakeObserver

pytestmark = pytest.mark.integration


def test_the_feed_holds_the_process_rows_and_the_records_the_same_events(
    stock_history: StockHistory,
) -> None:
    internal = [r for r in stock_history.rows if r["stream_type"] == "fulfilment"]
    assert len(internal) == 13  # 5 started, 5 lines reserved, 3 completed
    assert len(stock_history.events) == len(stock_history.rows) - len(internal)
    assert stock_history.live_events == stock_history.events  # one codec, either path


STOCK_COLLECTIONS = set(FIRST_VERSION_COLLECTIONS)  # this history fills every one of them


async def test_a_rebuild_from_the_feed_holds_what_the_live_projections_hold(
    stock_history: StockHistory, new_db: Databases
) -> None:
    live = new_db()
    await project(live, batched(stock_history.live_events, 5), keys=stock_history.keys)
    rebuilt, observer = new_db(), FakeObserver()
    api = WriteApi("http://write", transport=feed(stock_history.rows))
    try:
        for projection in projections(stock_history.keys).values():
            progress = await Rebuilder(
                projection,
                heal=healer(api),
                versions=MongoVersions(rebuilt),
                control=ControlState(rebuilt, ttl=0),
                log_=api,
                observer=observer,
                page_size=7,
                switch_grace=0,
            ).rebuild()
            assert (progress.phase, progress.target_version) == ("done", 2)
            assert progress.events == len(stock_history.rows), "every row read, none counted twice"
    finally:
        await api.close()
    assert observer.unknown == [], "the process's rows are not events of unknown types"
    assert_same(as_version(await snapshot(rebuilt), 2), await snapshot(live), STOCK_COLLECTIONS)


def stock_first(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: e.stream_type != "stock")


ARRANGEMENTS: list[tuple[str, Arrange, int]] = [
    ("stock-first", stock_first, 50),
    ("orders-first", orders_first, 1),
    ("random-3", random_merge(3), 1),
    ("random-13", random_merge(13), 6),
]


@pytest.mark.parametrize(
    ("arrange", "size"),
    [pytest.param(a, s, id=f"{name}-batch{s}") for name, a, s in ARRANGEMENTS],
)
async def test_any_interleaving_of_streams_gives_the_same_documents(
    stock_history: StockHistory,
    stock_reference: Snapshot,
    new_db: Databases,
    arrange: Arrange,
    size: int,
) -> None:
    db = new_db()
    await project(db, batched(arrange(stock_history.live_events), size), keys=stock_history.keys)
    assert_same(await snapshot(db), stock_reference, STOCK_COLLECTIONS)


@pytest.mark.parametrize(
    "redeliver", [each_batch_twice, whole_history_twice, each_event_twice_in_its_batch]
)
async def test_duplicates_change_nothing(
    stock_history: StockHistory,
    stock_reference: Snapshot,
    new_db: Databases,
    redeliver: Callable[[list[Event]], list[list[Event]]],
) -> None:
    db = new_db()
    await project(db, redeliver(stock_history.live_events), keys=stock_history.keys)
    assert_same(await snapshot(db), stock_reference, STOCK_COLLECTIONS)


async def test_version_gaps_in_stock_and_orders_are_healed_from_the_feed(
    stock_history: StockHistory, stock_reference: Snapshot, new_db: Databases
) -> None:
    apl, chs = stock_history.skus["APL"], stock_history.skus["CHS"]
    rejected, changed = stock_history.orders[1], stock_history.orders[2]
    dropped = {(apl, 2), (apl, 3), (chs, 1), (rejected, 1), (changed, 3), (changed, 4)}
    events = [e for e in stock_history.live_events if (e.stream_id, e.version) not in dropped]
    assert len(events) == len(stock_history.live_events) - len(dropped)
    api = WriteApi("http://write", transport=feed(stock_history.rows))
    try:
        db = new_db()
        await project(db, batched(events, 4), healer(api), keys=stock_history.keys)
    finally:
        await api.close()
    assert_same(await snapshot(db), stock_reference, STOCK_COLLECTIONS)


def by_id(docs: list[Doc]) -> dict[str, Doc]:
    return {doc["_id"]: doc for doc in docs}


def test_stock_documents_hold_the_levels_worked_out_by_hand(
    stock_history: StockHistory, stock_reference: Snapshot
) -> None:
    items = {doc["sku"]: doc for doc in stock_reference["stock_v1"]}
    assert {sku: public(doc) for sku, doc in items.items()} == {
        "APL": {"id": stock_history.skus["APL"], "sku": "APL", "on_hand": 5, "reserved": 0,
                "available": 5, "version": 6},
        "BRD": {"id": stock_history.skus["BRD"], "sku": "BRD", "on_hand": 5, "reserved": 0,
                "available": 5, "version": 3},
        "CHS": {"id": stock_history.skus["CHS"], "sku": "CHS", "on_hand": 5, "reserved": 4,
                "available": 1, "version": 6},
    }  # fmt: skip


# Worked out by hand: total, status, stock state (None: no `stock`), version, who changed the
# status, in order.
EXPECTED_ORDERS: list[tuple[str, str, str | None, int, list[str]]] = [
    ("5.70", "shipped", "reserved", 4, ["ann", "ann", "clerk"]),
    ("12.70", "rejected", "pending", 2, ["ben", PROCESS]),
    ("2.10", "confirmed", "not_tracked", 5, ["cat", "cat"]),
    ("12.19", "cancelled", "reserved", 3, ["ann", "ann"]),
    ("3.15", "confirmed", None, 2, ["ben", "ben"]),
    ("31.96", "placed", "reserved", 2, ["cat"]),
]


def test_order_documents_hold_their_stock_and_rejection_as_worked_out_by_hand(
    stock_history: StockHistory, stock_reference: Snapshot
) -> None:
    orders = by_id(stock_reference["order_details_v1"])
    for order_id, expected in zip(stock_history.orders, EXPECTED_ORDERS, strict=True):
        doc = orders[order_id]
        stock = doc.get("stock", {}).get("state")
        assert (doc["total"], doc["status"], stock, doc["version"]) == expected[:4], order_id
        assert [h["by"] for h in doc["status_history"]] == expected[4]
    rejected = orders[stock_history.orders[1]]
    assert rejected["rejection"] == {"reason": "out_of_stock", "skus": ["BRD"]}
    assert [h["status"] for h in rejected["status_history"]] == ["placed", "rejected"]
    assert all("rejection" not in doc for doc in orders.values() if doc is not rejected)
    untracked = orders[stock_history.orders[4]]
    assert not {"stock", "_tracked", "rejection"} & set(untracked)


def test_customers_and_days_count_a_rejected_order_as_a_cancelled_one(
    stock_history: StockHistory, stock_reference: Snapshot
) -> None:
    customers = by_id(stock_reference["customers_v1"])
    values = ["5.70", "3.15", "34.06"]  # Ann's cancelled and Ben's rejected order excluded
    for customer_id, value in zip(stock_history.customers, values, strict=True):
        doc = customers[customer_id]
        assert (doc["order_count"], doc["lifetime_value"]) == (2, value), doc["name"]
    days = stock_reference["sales_v1"]
    assert sum(d["orders_placed"] for d in days) == 6
    assert sum(d["orders_cancelled"] for d in days) == 2
    assert sum(Decimal(d["revenue"]) for d in days) == Decimal("42.91")
    assert sum(d["units"] for d in days) == 15
    products = {p["sku"] for d in days for p in d["products"]}
    assert products == {"APL", "CHS", "DTE", "EGG"}  # BRD was in the rejected order alone
    if len(days) == 1:  # unless run across midnight UTC
        assert days[0]["average_order_value"] == "10.73"  # 42.91 over 4 kept orders


def test_the_documents_are_what_the_reference_model_of_the_feed_expects(
    stock_history: StockHistory, stock_reference: Snapshot
) -> None:
    model = ReferenceModel(stock_history.clear_rows)
    items = {doc["sku"]: doc for doc in stock_reference["stock_v1"]}
    for sku in stock_history.skus:
        assert {k: v for k, v in public(items[sku]).items() if k != "id"} == model.stock_item(sku)
    for doc in stock_reference["order_details_v1"]:
        expected = model.order(doc["_id"])
        shown = public(doc)
        for key in ("status", "total", "item_count", "version", "stock", "rejection"):
            assert shown.get(key) == expected.get(key), (key, doc["_id"])
    for doc in stock_reference["customers_v1"]:
        assert doc["lifetime_value"] == model.customer(doc["_id"])["lifetime_value"]
    for doc in stock_reference["sales_v1"]:
        on = date.fromisoformat(doc["day"])
        [day] = model.daily(on, on)
        assert {k: v for k, v in public(doc).items() if k != "id"} == day
