"""The append part's Emmett peer: Emmett's PostgreSQL event store (the TypeScript library
`@event-driven-io/emmett-postgresql`) driven by bench/emmett/append.mjs under Node.

The packages are pinned in bench/emmett/package-lock.json and installed from the npm registry
with `npm ci` into bench/emmett/node_modules (not committed) the first time a run needs them.
Each run is one Node process: it creates Emmett's schema, opens a connection per writer, then
appends for the given seconds and prints what it did; only the appending is timed.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from shared.contracts.serialization import EventSerializer

from .append_engines import EngineRun
from .workload import item_added, metadata, order_placed

HERE = Path(__file__).resolve().parent / "emmett"
SCRIPT = HERE / "append.mjs"
INSTALLED = HERE / "node_modules" / ".package-lock.json"  # written by npm ci once it is done
NPM_CI = ["ci", "--no-audit", "--no-fund", "--loglevel=error"]
VARIANTS = 16  # payloads per event type, as WriterStreams cycles through
_SERIALIZER = EventSerializer()


class EmmettFailed(RuntimeError):
    """The Node process of a run exited with an error, or printed nothing we can read."""


@dataclass(frozen=True)
class EmmettRun:
    """One run: the appends, and the set-up that came before the clock started."""

    appended: EngineRun
    schema_seconds: float  # store.schema.migrate(): creating Emmett's tables and functions
    warm_seconds: float  # one call per writer at once, so the pool has its connections
    cpu_seconds: float  # the Node process's own CPU time over the timed appends
    conflicts: int  # optimistic-concurrency failures (none expected: one writer per stream)


def packages() -> dict[str, str]:
    """The pinned packages of bench/emmett/package.json, name -> version."""
    manifest: dict[str, Any] = orjson.loads((HERE / "package.json").read_bytes())
    return dict(manifest.get("dependencies", {}))


def needs_install(installed: Path = INSTALLED, lock: Path = HERE / "package-lock.json") -> bool:
    """Whether npm ci has to run: nothing installed yet, or the lock file changed since."""
    return not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime


def prepare() -> str | None:
    """None when Emmett can run here (installing it if needed); otherwise why it cannot."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None:
        return "node is not on the PATH: Emmett was not run"
    if not needs_install():
        return None
    if npm is None:
        return "npm is not on the PATH (needed once, to install Emmett): Emmett was not run"
    print("  append: installing Emmett from the npm registry (npm ci) ...", flush=True)
    try:
        done = subprocess.run([npm, *NPM_CI], cwd=HERE, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"npm ci in {HERE} did not finish ({exc!r}): Emmett was not run"
    if done.returncode != 0:
        return f"npm ci failed ({done.returncode}): {done.stderr[-500:]}: Emmett was not run"
    return None


def workload(database_url: str, writers: int, seconds: float) -> dict[str, Any]:
    """What the Node script reads on stdin: the same payloads and metadata as ours."""
    customer = uuid.uuid4()
    return {
        "url": database_url,
        "writers": writers,
        "seconds": seconds,
        "placed": [_SERIALIZER.to_data(order_placed(customer, n)) for n in range(VARIANTS)],
        "added": [_SERIALIZER.to_data(item_added(n)) for n in range(VARIANTS)],
        "metadata": [metadata().model_dump(exclude_none=True) for _ in range(64)],
    }


def parse_output(stdout: str) -> dict[str, Any]:
    """The script's last line of output: one JSON object with its counts and seconds."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        found = orjson.loads(lines[-1])
    except (IndexError, orjson.JSONDecodeError) as exc:
        raise EmmettFailed(f"no result from the Emmett script: {stdout[-500:]!r}") from exc
    if not isinstance(found, dict) or not {"events", "seconds"} <= found.keys():
        raise EmmettFailed(f"not a result of the Emmett script: {lines[-1][:500]!r}")
    return found


async def run_emmett(database_url: str, *, seconds: float, writers: int) -> EmmettRun:
    """One Node process appending through Emmett's event store for `seconds`."""
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(SCRIPT),
        cwd=HERE,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdin = orjson.dumps(workload(database_url, writers, seconds))
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=seconds + 120)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise EmmettFailed(f"the Emmett script ran past {seconds + 120:.0f} s") from exc
    if proc.returncode != 0:
        raise EmmettFailed(f"the Emmett script exited with {proc.returncode}: {err[-1500:]!r}")
    found = parse_output(out.decode())
    appended = EngineRun("Emmett PostgreSQL event store", int(found["events"]), found["seconds"])
    return EmmettRun(
        appended,
        float(found.get("schema_seconds", 0.0)),
        float(found.get("warm_seconds", 0.0)),
        float(found.get("cpu_seconds", 0.0)),
        int(found.get("conflicts", 0)),
    )
