"""The benchmark's arithmetic: percentiles, rates, targets and how figures are written."""

import json
import math
from pathlib import Path

import pytest

from bench.cpu import CpuMeter
from bench.report import write_results
from bench.stats import Latency, PartResult, Target, format_number, percentile, rate, ratio


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == 2.5
    assert percentile(values, 25) == pytest.approx(1.75)


def test_percentile_does_not_care_about_input_order() -> None:
    assert percentile([9.0, 1.0, 5.0], 50) == 5.0


def test_p99_of_a_hundred_values_lies_between_the_two_largest() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 99) == pytest.approx(99.01)


def test_percentile_of_one_value_is_that_value() -> None:
    assert percentile([7.0], 99) == 7.0


def test_percentile_rejects_no_values_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary_is_in_milliseconds() -> None:
    latency = Latency.of_seconds([0.001, 0.002, 0.003, 0.010])
    assert latency.count == 4
    assert latency.p50_ms == pytest.approx(2.5)
    assert latency.max_ms == pytest.approx(10.0)
    assert latency.mean_ms == pytest.approx(4.0)


def test_latency_of_nothing_is_not_a_number() -> None:
    assert math.isnan(Latency.of_seconds([]).p99_ms)


def test_rate_and_ratio_guard_against_zero() -> None:
    assert rate(500, 2.0) == 250.0
    assert rate(5, 0.0) == 0.0
    assert ratio(10, 4) == 2.5
    assert math.isnan(ratio(1, 0))


def test_target_met_in_both_directions() -> None:
    assert Target("rate", 6.0, ">=", 5.0, "x").met
    assert not Target("rate", 4.9, ">=", 5.0, "x").met
    assert Target("p99", 15.0, "<=", 15.0, "ms").met
    assert not Target("p99", 15.1, "<=", 15.0, "ms").met


def test_a_target_measured_as_nan_is_not_met() -> None:
    assert not Target("p99", math.nan, "<=", 15.0, "ms").met


def test_format_number_keeps_few_digits() -> None:
    assert format_number(23456.7) == "23,457"
    assert format_number(123.4) == "123"
    assert format_number(12.34) == "12.3"
    assert format_number(1.234) == "1.23"
    assert format_number(math.nan) == "n/a"


def test_results_carry_every_figure_with_its_unit(tmp_path: Path) -> None:
    part = PartResult("queries")
    part.add("order_by_id_p99", 4.2, "ms")
    part.add_latency("customer_orders", Latency.of_seconds([]))
    part.targets.append(Target("p99", 4.2, "<=", 15.0, "ms"))
    out = tmp_path / "results.json"
    write_results(out, {"machine": {"cores": 2}}, [part])
    body = json.loads(out.read_text())  # strict JSON: NaN became null
    figures = body["parts"]["queries"]["figures"]
    assert figures["order_by_id_p99"] == {"value": 4.2, "unit": "ms"}
    assert figures["customer_orders_p99"] == {"value": None, "unit": "ms"}
    assert body["targets"] == [
        {
            "part": "queries",
            "name": "p99",
            "measured": 4.2,
            "comparison": "<=",
            "threshold": 15.0,
            "unit": "ms",
            "met": True,
        }
    ]


def test_the_cpu_meter_reports_each_roles_busiest_window_as_a_share_of_one_core() -> None:
    meter = CpuMeter()
    # one sample a second: the server idles, works flat out for 5 s, then at half speed
    used = [0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 5.5, 6.0, 6.5]
    meter._series = [(float(t), {"server": s, "client": t * 0.1}) for t, s in enumerate(used)]
    peaks = meter.peaks(window=5.0)
    assert peaks["server"] == pytest.approx(100.0)
    assert peaks["client"] == pytest.approx(10.0)
    assert meter.peaks(window=60.0) == {}  # no window that long was sampled
