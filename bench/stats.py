"""Figures, percentiles, rates and targets: the arithmetic every part shares."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Comparison = Literal[">=", "<="]
_COMPARE: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Figure:
    """One measured number and its unit."""

    value: float
    unit: str

    def text(self) -> str:
        return f"{format_number(self.value)} {self.unit}"


@dataclass(frozen=True)
class Target:
    """A goal from the issue: `figure` compared with `threshold`; informative, never a failure."""

    name: str
    measured: float
    comparison: Comparison
    threshold: float
    unit: str

    @property
    def met(self) -> bool:
        return _COMPARE[self.comparison](self.measured, self.threshold)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met}


@dataclass
class PartResult:
    """What one part measured: figures with units, the targets, how it was measured."""

    name: str
    status: Literal["ok", "skipped", "error"] = "ok"
    figures: dict[str, Figure] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    method: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    machine_load: dict[str, Any] = field(default_factory=dict)
    # Figures that read best side by side: title -> rows, the first row naming the columns.
    tables: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)

    def add(self, key: str, value: float, unit: str) -> Figure:
        figure = Figure(float(value), unit)
        self.figures[key] = figure
        return figure

    def add_latency(self, prefix: str, latency: Latency) -> None:
        """p50, p99 and max of a latency summary, in milliseconds."""
        self.add(f"{prefix}_p50", latency.p50_ms, "ms")
        self.add(f"{prefix}_p99", latency.p99_ms, "ms")
        self.add(f"{prefix}_max", latency.max_ms, "ms")

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "figures": {k: asdict(v) for k, v in self.figures.items()},
            "targets": [t.as_dict() for t in self.targets],
            "method": self.method,
            "notes": self.notes,
            "machine_load": self.machine_load,
            "tables": {title: [list(row) for row in rows] for title, rows in self.tables.items()},
        }


@dataclass(frozen=True)
class Latency:
    """Percentiles of a set of durations, in milliseconds."""

    count: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @classmethod
    def of_seconds(cls, samples: Iterable[float]) -> Latency:
        ms = sorted(s * 1000.0 for s in samples)
        if not ms:
            return cls(0, math.nan, math.nan, math.nan, math.nan)
        return cls(
            count=len(ms),
            p50_ms=percentile(ms, 50, presorted=True),
            p99_ms=percentile(ms, 99, presorted=True),
            max_ms=ms[-1],
            mean_ms=sum(ms) / len(ms),
        )


def percentile(values: Sequence[float], p: float, *, presorted: bool = False) -> float:
    """The p-th percentile, linearly interpolated between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    ordered = values if presorted else sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rate(count: float, seconds: float) -> float:
    """Things per second; 0 when no time passed."""
    return count / seconds if seconds > 0 else 0.0


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is 0 (nothing to compare with)."""
    return numerator / denominator if denominator else math.nan


def format_number(value: float) -> str:
    """Readable at a glance: thousands separated, fewer decimals as numbers grow."""
    if math.isnan(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
