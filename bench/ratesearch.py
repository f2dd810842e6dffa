"""The search for the highest rate a system sustains within a bound: double from a low rate
while steps pass (halve while they fail), then bisect between the highest pass and the lowest
failure above it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RateSearch:
    """Proposes the next rate to try from the verdicts so far; None when the search is over."""

    start: float
    bisections: int  # steps taken inside the bracket
    max_steps: int = 12
    floor: float = 10.0  # below this, nothing passes: stop
    ceiling: float = 5000.0  # above this, the load generator is the limit: stop
    grain: float = 5.0  # rates are multiples of this
    tried: list[tuple[float, bool]] = field(default_factory=list)
    _inside: int = 0

    @property
    def best(self) -> float:
        """The highest rate that passed (0 when none did)."""
        return max((r for r, ok in self.tried if ok), default=0.0)

    def _bracket(self) -> tuple[float | None, float | None]:
        low = max((r for r, ok in self.tried if ok), default=None)
        above = [r for r, ok in self.tried if not ok and (low is None or r > low)]
        return low, min(above, default=None)

    def record(self, rate: float, passed: bool) -> None:
        low, high = self._bracket()
        if low is not None and high is not None:
            self._inside += 1
        self.tried.append((rate, passed))

    def next(self) -> float | None:
        if not self.tried:
            return self.start
        if len(self.tried) >= self.max_steps:
            return None
        low, high = self._bracket()
        if low is None:  # nothing passed yet
            assert high is not None
            lower = self._round(high / 2)
            return lower if lower >= self.floor and lower < high else None
        if high is None:
            higher = self._round(low * 2)
            return higher if higher <= self.ceiling else None
        middle = self._round((low + high) / 2)
        if self._inside >= self.bisections or not low < middle < high:
            return None
        return middle

    def _round(self, rate: float) -> float:
        return max(self.grain, round(rate / self.grain) * self.grain)
