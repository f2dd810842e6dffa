"""The personal-data benchmark's arithmetic: CPU per answered command, at rest subtracted, and
the keys it hands the write service."""

import base64

from bench.loadgen import OpenLoopRun
from bench.personal import Measured, pii_env, registration, report
from bench.sealing_cost import sealing_us
from bench.usage import Usage


def measured(completed: int, cpu: float, seconds: float) -> Measured:
    load = OpenLoopRun(offered_rate=50, scheduled=completed, sent=completed, completed=completed)
    spent = Usage(at=seconds, cpu={"write service": cpu, "postgresql": cpu / 2})
    return Measured(load, [0.002] * completed, spent)


def test_cpu_per_command_counts_answered_commands_and_subtracts_rest() -> None:
    run = measured(completed=1500, cpu=4.5, seconds=30.0)
    assert run.cpu_us("write service") == 3000.0
    assert run.cpu_us("write service", idle_share=0.01) == 1e6 * (4.5 - 0.3) / 1500
    assert run.cpu_us("postgresql") == 1500.0


def test_the_report_gives_each_commands_median_round() -> None:
    register = [measured(750, cpu, 15.0) for cpu in (2.25, 9.0, 1.5)]
    place = [measured(750, cpu, 15.0) for cpu in (3.0, 3.0, 3.75)]
    sealing = {"register": 30.0, "place_order": 600.0}
    result = report({"register": register, "place_order": place}, 0.01, sealing, quick=False)
    assert result.figures["register_write_cpu_per_command"].value == 3000.0
    assert result.figures["place_order_write_cpu_per_command"].value == 4000.0
    assert result.figures["register_write_cpu_per_command_net"].value == 1e6 * 2.1 / 750
    assert result.figures["register_answered"].value == 2250
    assert result.figures["write_idle_cpu"].value == 1.0
    assert result.tables["write service CPU per command, by round"][1][2] == "12,000 µs"
    assert result.notes == []
    assert result.figures["register_sealing_share"].value == 1.0
    assert [t.met for t in result.targets] == [True, False]  # 600 µs of 4,000: over 10%


def test_the_keys_are_fresh_256_bit_values_and_registrations_unique() -> None:
    first, second = pii_env(), pii_env()
    assert set(first) == {"PII_KEK", "PII_INDEX_KEY"}
    assert all(len(base64.b64decode(v, validate=True)) == 32 for v in first.values())
    assert first["PII_KEK"] != second["PII_KEK"] != first["PII_INDEX_KEY"]
    assert registration(1)["email"] != registration(1)["email"]


async def test_sealing_adds_a_measured_cost_to_both_commands() -> None:
    added = await sealing_us(repeats=200)
    assert set(added) == {"register", "place_order"}
    assert all(us > 0 for us in added.values())
