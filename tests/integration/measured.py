"""A command run as a child process with its peak memory measured: `wait4`'s `ru_maxrss` once it
exited, and the kernel's `VmHWM` and `VmRSS` sampled while it ran."""

import asyncio
import contextlib
import os
import re
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.services import ROOT

# Linux hands a child the peak RSS of the process that spawned it (ru_maxrss survives fork and
# exec), so a command started straight from pytest would report pytest's own size. A small
# launcher in between starts it with a clean slate, reaps it with wait4 and reports its peak.
LAUNCHER = """
import os, subprocess, sys
report = open(sys.argv[1], "w")
child = subprocess.Popen(sys.argv[2:])
print(child.pid, file=report, flush=True)
_, status, usage = os.wait4(child.pid, 0)
child.returncode = os.waitstatus_to_exitcode(status)
print(child.returncode, usage.ru_maxrss, file=report, flush=True)
"""


@dataclass(frozen=True)
class Measured:
    """One finished command: exit code, output, and its peak RSS seen two ways."""

    code: int
    stdout: str
    stderr: str
    maxrss_mb: float  # ru_maxrss from wait4: the kernel's own figure for exactly this process
    hwm_mb: float  # the highest VmHWM read from /proc/<pid>/status while it ran
    seconds: float
    rss: list[tuple[int, float]]  # (events replayed per its last progress line, VmRSS) samples


async def run_measured(args: list[str], env: dict[str, str], out_dir: Path) -> Measured:
    """Run `python <args>` through the launcher, sampling its /proc/<pid>/status meanwhile."""
    name = uuid.uuid4().hex
    report, stdout, stderr = (out_dir / f"{name}.{ext}" for ext in ("report", "out", "err"))
    started = time.monotonic()
    command = [sys.executable, "-c", LAUNCHER, str(report), sys.executable, *args]
    with stdout.open("wb") as out, stderr.open("wb") as err:
        launcher = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, env=env, stdout=out, stderr=err
        )
    hwm, rss = 0.0, []
    try:
        while launcher.returncode is None:
            lines = report.read_text().split() if report.exists() else []
            if lines and (status := proc_status(int(lines[0]))):
                hwm = max(hwm, status["VmHWM"])
                rss.append((replayed(stdout.read_text()), status["VmRSS"]))
            assert time.monotonic() - started < 400, f"{args} still running after 400 s"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(launcher.wait(), 0.05)
    finally:
        if launcher.returncode is None:  # the test failed: stop the command, then its launcher
            started_pid = report.read_text().split()[:1] if report.exists() else []
            for pid in started_pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            launcher.kill()
            await launcher.wait()
    assert launcher.returncode == 0, stderr.read_text()
    _, code, maxrss_kb = report.read_text().split()
    return Measured(
        code=int(code),
        stdout=stdout.read_text(),
        stderr=stderr.read_text(),
        maxrss_mb=int(maxrss_kb) / 1024,
        hwm_mb=hwm,
        seconds=time.monotonic() - started,
        rss=rss,
    )


def proc_status(pid: int) -> dict[str, float]:
    """The memory lines (in MB) of /proc/<pid>/status; empty once the process has gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = re.findall(r"^(Vm\w+):\s+(\d+) kB$", text, re.M)
    return {key: int(kb) / 1024 for key, kb in found}


def replayed(output: str) -> int:
    """Events replayed according to the last progress line of the rebuild command."""
    found = re.findall(r"^\w+: ([\d,]+)/[\d,]+ events", output, re.M)
    return int(found[-1].replace(",", "")) if found else 0
