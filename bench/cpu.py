"""Where the CPU went while a part ran: the whole machine, and each process by role.

A sampler thread reads /proc every half second. Processes descending from the benchmark are
named by role (PostgreSQL, the broker, the MongoDB server, each service, the load generator);
everything else is "other" (on a shared machine: other people's work). A process that exits
between two samples loses at most half a second of CPU from the account.

Besides the totals, each role's busiest PEAK_WINDOW seconds, as a share of one core: a server
that runs its work on one core at a time (SecantusDB under one GIL) is at its ceiling near 100%,
whatever the machine's other cores do.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PEAK_WINDOW = 5.0  # seconds
PEAKS = f"cpu_peak_{PEAK_WINDOW:.0f}s_percent_of_a_core_by_role"  # the key in machine_load
ROLES = (
    ("services.write", "write service"),
    ("services.read", "read service"),
    ("bench.bare_app", "bare app"),
    ("secantus", "mongodb server"),
    ("tansu", "kafka broker"),
    ("pgbench", "pgbench"),
    ("wrk", "wrk"),
    ("postgres", "postgresql"),  # after pgbench, whose arguments name postgresql://
)


def process_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of one process, or None if it has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu_seconds(roots: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each root process and its descendants, those that ended and
    were reaped included (their time moves into the parent's: fields cutime and cstime)."""
    parents, used = {}, {}
    for entry in Path("/proc").iterdir():
        try:
            text = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if text:
            fields = text[text.rindex(")") + 2 :].split()
            parents[int(entry.name)] = int(fields[1])
            used[int(entry.name)] = sum(int(f) for f in fields[11:15]) / TICK
    return {
        name: sum(cpu for pid, cpu in used.items() if _descends(pid, parents, ancestor=root))
        for name, root in roots.items()
    }


def _role(pid: int, ours: bool) -> str:
    if pid == os.getpid():
        return "benchmark process (load generator, eventsourcing threads)"
    if not ours:
        return "other (not started by the benchmark)"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "benchmark child"
    return next((role for key, role in ROLES if key in cmdline), "benchmark child")


class CpuMeter:
    """Whole-machine CPU use and CPU seconds by role between start() and stop()."""

    def __init__(self, period: float = 0.5) -> None:
        self.period = period
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._roles: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-meter", daemon=True)
        self._machine_start: tuple[int, int] | None = None
        self._load_start = 0.0
        self._series: list[tuple[float, dict[str, float]]] = []  # (when, CPU seconds by role)

    def start(self) -> CpuMeter:
        self._machine_start, self._load_start = _machine(), os.getloadavg()[0]
        self._sample(initial=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            self._sample(initial=False)

    def _sample(self, *, initial: bool) -> None:
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (found := process_stat(int(entry.name))) is not None:
                pid = int(entry.name)
                parents[pid], self._last[pid] = found
                self._first.setdefault(pid, found[1] if initial else 0.0)
        for pid in parents:
            if pid not in self._roles:
                self._roles[pid] = _role(pid, _descends(pid, parents))
        self._series.append((time.monotonic(), self._by_role()))

    def _by_role(self) -> dict[str, float]:
        by_role: dict[str, float] = defaultdict(float)
        for pid, last in self._last.items():
            by_role[self._roles.get(pid, "other")] += last - self._first.get(pid, 0.0)
        return by_role

    def peaks(self, window: float = PEAK_WINDOW) -> dict[str, float]:
        """Each role's highest CPU use over any `window` seconds, in percent of one core."""
        best: dict[str, float] = defaultdict(float)
        start = 0
        for when, used in self._series:
            while start + 1 < len(self._series) and self._series[start + 1][0] <= when - window:
                start += 1
            began, before = self._series[start]
            if when - began < window * 0.9:
                continue
            for role, seconds in used.items():
                share = 100.0 * (seconds - before.get(role, 0.0)) / (when - began)
                best[role] = max(best[role], share)
        return dict(best)

    def stop(self) -> dict[str, object]:
        """Busy share of all cores, the 1-minute load before and after, CPU seconds by role."""
        self._stop.set()
        self._thread.join()
        self._sample(initial=False)
        result: dict[str, object] = {
            "load1_before": self._load_start,
            "load1_after": os.getloadavg()[0],
        }
        end = _machine()
        if self._machine_start is not None and end is not None:
            total, idle = end[0] - self._machine_start[0], end[1] - self._machine_start[1]
            if total > 0:
                result["cpu_busy_percent"] = round(100.0 * (total - idle) / total, 1)
        by_role = self._by_role()
        result["cpu_seconds_by_role"] = {
            role: round(seconds, 1)
            for role, seconds in sorted(by_role.items(), key=lambda kv: -kv[1])
            if seconds >= 0.05
        }
        result[PEAKS] = {
            role: round(share)
            for role, share in sorted(self.peaks().items(), key=lambda kv: -kv[1])
            if share >= 5
        }
        return result


def _descends(pid: int, parents: dict[int, int], *, ancestor: int | None = None) -> bool:
    """`pid` is `ancestor` (this process by default) or one of its descendants."""
    me, seen = ancestor or os.getpid(), 0
    while pid > 1 and seen < 64:
        if pid == me:
            return True
        pid, seen = parents.get(pid, 0), seen + 1
    return False


def _machine() -> tuple[int, int] | None:
    """(total, idle) jiffies of all CPUs from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except (OSError, IndexError):
        return None
    ticks = [int(x) for x in fields]
    return sum(ticks), ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
