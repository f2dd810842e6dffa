"""The alert rules under promtool: they parse, and their unit tests (alerts.test.yml) pass.

Without promtool the tests skip, saying how to get it, except in CI (`CI` set), where a missing
promtool fails them: .ci/run installs it.
"""

import os
import shutil
import subprocess

import pytest

from deploy.check import ROOT

RULES = ROOT / "deploy" / "prometheus"
INSTALL = "apt-get install prometheus (Debian, Ubuntu), or a Prometheus release from prometheus.io"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    if found is None:
        reason = f"promtool is not installed: {INSTALL}"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"{reason} (.ci/run installs it)")
        pytest.skip(reason)
    return subprocess.run(
        [found, *args], cwd=RULES, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_alert_rules_are_valid() -> None:
    done = promtool("check", "rules", "alerts.yml")

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alert_rules_pass_their_unit_tests() -> None:
    done = promtool("test", "rules", "alerts.test.yml")

    assert done.returncode == 0, done.stdout + done.stderr
