"""The catchup part's pure helpers: its live-like history, the pacing of its polls, and what it
reads from Kafka, MongoDB and /proc."""

from collections import Counter

import pytest
from aiokafka import TopicPartition

from bench.backlog import by_appender, live_history
from bench.catchup import next_poll
from bench.groups import behind
from bench.usage import Usage, database_ops_of


def test_every_stream_advances_one_version_at_a_time() -> None:
    history = live_history(5_000)
    assert len(history) == 5_000
    versions: dict[object, int] = {}
    for append in history:
        assert append.expected_version == versions.get(append.stream_id, 0)
        versions[append.stream_id] = append.expected_version + 1


def test_the_history_mixes_every_kind_of_command() -> None:
    kinds = Counter(type(a.event).__name__ for a in live_history(10_000))
    assert kinds["OrderPlaced"] == pytest.approx(4 * kinds["CustomerRegistered"], rel=0.05)
    assert kinds["OrderItemAdded"] > kinds["OrderPlaced"]
    assert kinds["OrderShipped"] > 3 * kinds["OrderCancelled"]
    for kind in ("CustomerRenamed", "CustomerEmailChanged", "OrderItemRemoved"):
        assert kinds[kind] > 0


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


def test_polls_closer_as_the_end_nears() -> None:
    assert next_poll(left=10_000, done=0, elapsed=0.0) == pytest.approx(0.05)
    assert next_poll(left=10_000, done=1_000, elapsed=1.0) == pytest.approx(0.5)  # 10 s to go
    assert next_poll(left=100, done=10_000, elapsed=2.0) == pytest.approx(0.02)  # 20 ms to go
    assert next_poll(left=1_000, done=10_000, elapsed=2.0) == pytest.approx(0.1)
