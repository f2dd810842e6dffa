"""No Python module of the project grows past 300 lines: past that, split it where it reads
as two things."""

import subprocess

from tests.services import ROOT

LIMIT = 300


def test_no_module_is_over_300_lines() -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()
    assert listed, "git listed no module"
    lengths = {
        name: len(path.read_text().splitlines())
        for name in listed
        if (path := ROOT / name).is_file()
    }
    assert "services/write/bootstrap.py" in lengths
    assert {name: n for name, n in lengths.items() if n > LIMIT} == {}
