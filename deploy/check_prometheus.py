"""Static checks of deploy/prometheus: the scrape configuration, the rule files and the
`promtool test rules` files that cover them."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from deploy.check_common import dig, load, rel


def check_prometheus(data: Any, path: Path, root: Path) -> list[str]:
    problems = []
    if not dig(data, "scrape_configs"):
        problems.append(f"{rel(path, root)}: no scrape_configs")
    for pattern in dig(data, "rule_files") or []:
        if not glob.glob(str(path.parent / pattern)):
            problems.append(f"{rel(path, root)}: rule file {pattern!r} does not exist")
    return problems


def check_rules(data: Any, where: str) -> list[str]:
    rules = [r for g in dig(data, "groups") or [] for r in (dig(g, "rules") or [])]
    incomplete = [
        r for r in rules if not dig(r, "expr") or not (dig(r, "alert") or dig(r, "record"))
    ]
    return [f"{where}: rule without expr and alert/record: {r}" for r in incomplete]


def check_rule_tests(data: Any, path: Path, root: Path) -> list[str]:
    """A `promtool test rules` file: its rule files exist, and every alert they define has a
    case where it fires (promtool itself runs the cases, see tests/unit/test_alert_rules.py)."""
    where = rel(path, root)
    tests = dig(data, "tests") or []
    problems = [
        f"{where}: a test without input_series" for t in tests if not dig(t, "input_series")
    ]
    files = [(p, glob.glob(str(path.parent / p))) for p in dig(data, "rule_files") or []]
    problems += [f"{where}: rule file {p!r} does not exist" for p, found in files if not found]
    fired = {
        str(case.get("alertname"))
        for test in tests
        for case in dig(test, "alert_rule_test") or []
        if case.get("exp_alerts")
    }
    alerts = alerts_in([Path(f) for _, found in files for f in found])
    return problems + [f"{where}: no case where {a} fires" for a in sorted(alerts - fired)]


def alerts_in(rule_files: list[Path]) -> set[str]:
    """The names of the alerts defined in Prometheus rule files."""
    groups = [g for f in rule_files for d in load(f) for g in dig(d, "groups") or []]
    return {str(r["alert"]) for g in groups for r in dig(g, "rules") or [] if dig(r, "alert")}
