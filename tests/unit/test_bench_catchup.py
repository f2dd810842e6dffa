"""The catchup part's pure helpers: its live-like history, the pacing of its polls, what it
reads from Kafka, MongoDB and /proc, and how it sets the live catch-up against the rebuild."""

from collections import Counter

import pytest
from aiokafka import TopicPartition

from bench.backlog import CUSTOMERS, by_appender, live_history
from bench.catchup import next_poll
from bench.catchup_report import CatchUp, Side, documents, report
from bench.groups import behind
from bench.projected import Held, digest, version_roles
from bench.rebuild import Rebuilt
from bench.usage import Usage, database_ops_of
from shared.contracts.events import CustomerRenamed, OrderPlaced


def test_every_stream_advances_one_version_at_a_time() -> None:
    history = live_history(5_000)
    assert len(history) == 5_000
    versions: dict[object, int] = {}
    for append in history:
        assert append.expected_version == versions.get(append.stream_id, 0)
        versions[append.stream_id] = append.expected_version + 1


def test_the_history_mixes_every_kind_of_command() -> None:
    kinds = Counter(type(a.event).__name__ for a in live_history(10_000))
    assert kinds["CustomerRegistered"] == CUSTOMERS
    assert kinds["OrderItemAdded"] > kinds["OrderPlaced"]
    assert kinds["OrderShipped"] > 3 * kinds["OrderCancelled"]
    for kind in ("CustomerRenamed", "CustomerEmailChanged", "OrderItemRemoved"):
        assert kinds[kind] > 0


def test_few_customers_place_many_orders_each() -> None:
    history = live_history(30_000)
    orders = Counter(a.event.customer_id for a in history if isinstance(a.event, OrderPlaced))
    assert len(orders) == CUSTOMERS
    assert 100 <= min(orders.values()) and max(orders.values()) <= 200
    renames = Counter(a.stream_id for a in history if isinstance(a.event, CustomerRenamed))
    assert sum(renames.values()) < 2 * CUSTOMERS  # a customer renames themselves rarely


def test_orders_interleave_as_in_live_traffic() -> None:
    history = live_history(5_000)
    for start in range(0, 5_000, 500):
        assert len({a.stream_id for a in history[start : start + 500]}) > 200


def test_each_stream_goes_to_one_appender_in_order() -> None:
    history = live_history(3_000)
    lanes = by_appender(history, 4)
    assert sum(len(lane) for lane in lanes) == len(history)
    for lane in lanes:
        assert len({a.stream_id.int % 4 for a in lane}) == 1
        first_seen = [history.index(a) for a in lane]
        assert first_seen == sorted(first_seen)


def test_records_behind_count_from_the_committed_offsets() -> None:
    a, b = TopicPartition("t", 0), TopicPartition("t", 1)
    assert behind({a: 5}, {a: 8, b: 3}) == 6
    assert behind({a: 9, b: 3}, {a: 8, b: 3}) == 0


def test_usage_over_an_interval() -> None:
    before = Usage(10.0, {"read": 1.0}, {"total": 5}, {"query": 7})
    after = Usage(12.0, {"read": 1.5}, {"total": 25}, {"query": 17})
    spent = after.since(before)
    assert spent.at == pytest.approx(2.0)
    assert spent.share_of_a_core("read") == pytest.approx(25.0)
    assert (spent.database_ops, spent.server_ops) == ({"total": 20}, {"query": 10})


def test_only_the_databases_own_namespaces_count() -> None:
    top = {
        "totals": {
            "note": "all times in microseconds",
            "app.orders_v1": {"total": {"time": 9, "count": 3}, "update": {"time": 9, "count": 3}},
            "app.projection_state": {"total": {"time": 1, "count": 2}},
            "application.x": {"total": {"time": 1, "count": 100}},
        }
    }
    assert database_ops_of(top, "app")["total"] == 5
    assert database_ops_of(top, "app")["update"] == 3


def test_polls_within_two_percent_of_the_time_so_far() -> None:
    assert next_poll(elapsed=0.0) == pytest.approx(0.02)
    assert next_poll(elapsed=2.0) == pytest.approx(0.04)
    assert next_poll(elapsed=100.0) == pytest.approx(0.5)


def test_a_versions_collections_by_role() -> None:
    names = ["order_details_v2", "order_details_v2_customers", "order_details_v1", "sales_v2"]
    assert version_roles(names, "order_details", 2) == {
        "order_details_v2": "main",
        "order_details_v2_customers": "customers",
    }
    assert version_roles(iter(names), "sales", 2) == {"sales_v2": "main"}
    assert version_roles(names, "customers", 1) == {}


def test_the_ids_digest_ignores_the_order_they_were_read_in() -> None:
    assert digest({"main": ["a", "b"], "x": ["c"]}) == digest({"x": ["c"], "main": ["b", "a"]})
    assert digest({"main": ["a", "b"]}) != digest({"main": ["a"], "b": []})


def test_live_against_the_rebuild_until_it_serves() -> None:
    spent = Usage(10.0, {"read service": 2.0}, {"total": 100}, {})
    live = CatchUp("sales", 10_000, 9_000, 5.0, spent, Held(1, {"main": 40}, "d1"))
    rebuilt = Rebuilt(
        projection="sales",
        events=10_000,
        seconds=4.0,
        total_seconds=6.0,
        replay_rate=5_000.0,
        phases={"replay": 2.0, "writing": 1.0, "indexing": 0.5, "pausing": 0.1},
        peak_rss_mb=100.0,
        cpu_seconds=3.0,
        summary="",
    )
    result = report(10_000, {}, spent, [live], [Side(rebuilt, Held(2, {"main": 40}, "d1"))])
    figures = {k: f.value for k, f in result.figures.items()}
    assert figures["sales_live_events_per_s"] == pytest.approx(2_000.0)
    assert figures["sales_rebuild_until_serving_events_per_s"] == pytest.approx(2_500.0)
    assert figures["sales_live_to_rebuild_until_serving"] == pytest.approx(0.8)
    assert figures["sales_live_to_rebuild_replay"] == pytest.approx(0.4)
    assert (figures["sales_live_documents"], figures["sales_rebuild_documents"]) == (40, 40)
    [target] = result.targets
    assert (target.threshold, target.met) == (1.0, False)
    [_, row] = result.tables["live catch-up against the rebuild over the same log"]
    assert row[-1] == "40 / 40 (same ids)"
    assert not result.notes


def test_different_documents_on_both_sides_are_named() -> None:
    assert documents(Held(1, {"main": 3}, "a"), Held(2, {"main": 3}, "b")).endswith(
        "(DIFFERENT ids)"
    )
    assert documents(None, Held(2, {"main": 3}, "b")) == "not counted"
