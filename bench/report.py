"""The printed tables and bench/results.json."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .cpu import PEAK_WINDOW, PEAKS
from .stats import PartResult, Target, format_number


def _table(rows: Sequence[tuple[str, ...]], indent: str = "  ") -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(indent + line.rstrip() for line in lines)


def _target_row(part: str, target: Target) -> tuple[str, ...]:
    return (
        part,
        target.name,
        f"{format_number(target.measured)} {target.unit}",
        f"{target.comparison} {format_number(target.threshold)} {target.unit}",
        "met" if target.met else "NOT MET",
    )


def print_part(result: PartResult) -> None:
    cpu = result.machine_load.get("cpu_busy_percent")
    busy = f", machine CPU busy {cpu:.0f}%" if cpu is not None else ""
    print(f"\n== {result.name}: {result.status} in {result.seconds:.0f} s{busy}")
    roles = result.machine_load.get("cpu_seconds_by_role") or {}
    if roles:
        print("  CPU seconds: " + ", ".join(f"{role} {s:.1f}" for role, s in roles.items()))
    peaks = result.machine_load.get(PEAKS) or {}
    if peaks:
        shown = ", ".join(f"{role} {share:.0f}%" for role, share in peaks.items())
        print(f"  busiest {PEAK_WINDOW:.0f} s, % of one core: {shown}")
    if operations := result.machine_load.get("mongodb_operations"):
        counted = ", ".join(f"{op} {n:,}" for op, n in operations.items())
        print(f"  MongoDB operations (serverStatus opcounters): {counted}")
    if result.figures:
        rows = [("figure", "value")]
        rows += [(key, figure.text()) for key, figure in result.figures.items()]
        print(_table(rows))
    for title, table in result.tables.items():
        print(f"  {title}:")
        print(_table(table, indent="    "))
    for target in result.targets:
        print(f"  target: {target.name}: {' '.join(_target_row(result.name, target)[2:])}")
    for note in result.notes:
        print(f"  note: {note}")


def print_summary(results: list[PartResult]) -> None:
    rows: list[tuple[str, ...]] = [("part", "target", "measured", "target", "result")]
    for result in results:
        rows += [_target_row(result.name, t) for t in result.targets]
        if result.status != "ok":
            rows.append((result.name, result.status, "-", "-", "-"))
    print("\n== targets (informative: a missed target never fails the run)")
    print(_table(rows))


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: those become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_results(path: Path, header: dict[str, Any], results: list[PartResult]) -> None:
    body = {
        **header,
        "parts": {r.name: r.as_dict() for r in results},
        "targets": [{"part": r.name, **t.as_dict()} for r in results for t in r.targets],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(body), indent=2) + "\n")
