"""The fulfilment benchmark's arithmetic: each order paired with its reservation, and the rule
a search step passes by."""

import pytest

from bench.fulfilment_probe import MAX_LINES, Outcomes, Paired, pair, passes, tracked_bodies
from bench.loadgen import OpenLoopRun
from bench.workload import SKUS

ANSWERED = {"a": 100.0, "b": 100.5, "c": 101.0, "d": 101.5}


def kept_up(offered: float = 100.0) -> OpenLoopRun:
    scheduled = int(offered * 10)
    return OpenLoopRun(offered, scheduled, sent=scheduled, completed=scheduled, seconds=10.0)


def paired_within(seconds: float, count: int = 100) -> Paired:
    return Paired(latencies=[seconds] * count, censored=[], rejected=0)


def test_each_reserved_order_counts_from_its_response() -> None:
    reserved = {"a": 100.25, "b": 100.6, "c": 101.0, "d": 101.4}
    paired = pair(ANSWERED, Outcomes(reserved, frozenset()), ended=200.0)
    assert paired.latencies == pytest.approx([0.25, 0.1, 0.0, -0.1])
    assert paired.censored == [] and paired.rejected == 0


def test_orders_never_reserved_count_with_their_age_as_lower_bounds() -> None:
    paired = pair(ANSWERED, Outcomes({"a": 100.2}, frozenset()), ended=110.0)
    assert paired.latencies == pytest.approx([0.2])
    assert sorted(paired.censored) == pytest.approx([8.5, 9.0, 9.5])
    assert paired.unsettled == 3
    assert paired.latency().count == 4
    assert paired.latency().max_ms == pytest.approx(9500.0)


def test_rejected_orders_are_neither_latencies_nor_waiting() -> None:
    paired = pair(ANSWERED, Outcomes({"a": 100.2}, frozenset({"b", "c"})), ended=110.0)
    assert paired.rejected == 2
    assert paired.censored == pytest.approx([8.5])
    assert paired.unsettled == 3


def test_reservations_of_orders_outside_the_run_are_ignored() -> None:
    reserved = {"a": 100.1, "warm-up": 99.0}
    paired = pair({"a": 100.0}, Outcomes(reserved, frozenset({"other"})), ended=110.0)
    assert paired.latencies == pytest.approx([0.1])
    assert paired.unsettled == 0


def test_a_step_passes_when_the_process_kept_up_within_the_bound() -> None:
    assert passes(paired_within(0.5), kept_up(), achieved=99.0, offered=100.0, bound_ms=1000.0)


def test_a_step_fails_over_the_bound() -> None:
    paired = paired_within(1.5)
    assert not passes(paired, kept_up(), achieved=100.0, offered=100.0, bound_ms=1000.0)


def test_a_step_fails_with_an_order_not_reserved_or_rejected() -> None:
    waiting = Paired(latencies=[0.1] * 999, censored=[0.5], rejected=0)
    rejected = Paired(latencies=[0.1] * 999, censored=[], rejected=1)
    for paired in (waiting, rejected):
        assert not passes(paired, kept_up(), achieved=100.0, offered=100.0, bound_ms=1000.0)


def test_a_step_fails_below_95_percent_of_the_offered_rate() -> None:
    assert not passes(paired_within(0.1), kept_up(), achieved=94.0, offered=100.0, bound_ms=1e3)


def test_a_step_fails_when_orders_failed_or_the_schedule_was_not_kept() -> None:
    failed, overloaded = kept_up(), kept_up()
    failed.failed = 1
    overloaded.stopped_at_s = 4.0
    for load in (failed, overloaded):
        assert not passes(paired_within(0.1), load, achieved=100.0, offered=100.0, bound_ms=1e3)


def test_a_step_with_no_order_reserved_fails() -> None:
    empty = Paired(latencies=[], censored=[], rejected=0)
    assert not passes(empty, kept_up(), achieved=100.0, offered=100.0, bound_ms=1000.0)


def test_bodies_have_one_to_three_distinct_lines_of_one_unit_the_same_every_run() -> None:
    bodies = tracked_bodies(["c1", "c2"], count=200)
    assert bodies == tracked_bodies(["c1", "c2"], count=200)
    counts = {len(body["items"]) for body in bodies}
    assert counts == set(range(1, MAX_LINES + 1))
    for body in bodies:
        skus = [item["sku"] for item in body["items"]]
        assert len(set(skus)) == len(skus) and set(skus) <= set(SKUS)
        assert {item["quantity"] for item in body["items"]} == {1}
    assert {body["customer_id"] for body in bodies} == {"c1", "c2"}
