"""The benchmark's search for the highest rate that stays within a bound."""

from bench.ratesearch import RateSearch


def search(
    limit: float,
    *,
    start: float = 100.0,
    bisections: int = 3,
    max_steps: int = 12,
    ceiling: float = 5000.0,
) -> RateSearch:
    """Run a search against a system that passes every rate up to `limit`."""
    found = RateSearch(start, bisections, max_steps=max_steps, ceiling=ceiling)
    while (rate := found.next()) is not None:
        found.record(rate, rate <= limit)
    return found


def test_doubles_until_a_step_fails_then_bisects() -> None:
    found = search(270.0)
    assert [r for r, _ in found.tried] == [100, 200, 400, 300, 250, 275]
    assert found.best == 250


def test_halves_while_even_the_first_rate_fails() -> None:
    found = search(30.0)
    assert [r for r, _ in found.tried][:3] == [100, 50, 25]
    assert found.best >= 25


def test_nothing_passes_above_the_floor() -> None:
    found = search(1.0)
    assert found.best == 0
    assert min(r for r, _ in found.tried) >= found.floor


def test_stops_at_the_ceiling_and_after_max_steps() -> None:
    assert search(1e9, ceiling=800.0).best == 800
    assert len(search(1e9, max_steps=2).tried) == 2


def test_stops_once_the_bracket_is_one_grain_wide() -> None:
    found = search(104.0, bisections=10)
    assert found.best == 100
    assert [r for r, _ in found.tried] == [100, 200, 150, 125, 110, 105]
