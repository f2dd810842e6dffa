"""`python -m bench [--only append,http,freshness,...] [--quick] [--out PATH]`.

Runs the parts against the servers in the environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS,
MONGODB_URL) or the embedded stack, prints a table per part and the targets, and writes every
figure with its unit to bench/results.json. A missed target never fails the run; the exit code
is 1 only when the harness itself broke (a part raised), 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import (
    append,
    catchup,
    docstore,
    freshness,
    fulfilment,
    http,
    idle,
    personal,
    queries,
    rebuild,
    traced,
)
from .cpu import CpuMeter
from .loadgen import new_event_loop_runner
from .machine import facts
from .report import print_part, print_summary, write_results
from .servers import DURABLE_PG, Stack
from .stats import PartResult

Runner = Callable[..., Awaitable[PartResult]]
PARTS: dict[str, tuple[Runner, set[str]]] = {
    "append": (append.run, {"postgres"}),
    "http": (http.run, {"postgres", "kafka"}),
    "traced": (traced.run, {"postgres", "kafka"}),
    "freshness": (freshness.run, {"postgres", "kafka", "mongo"}),
    "rebuild": (rebuild.run, {"postgres", "mongo"}),
    "catchup": (catchup.run, {"postgres", "kafka", "mongo"}),
    "queries": (queries.run, {"postgres", "kafka", "mongo"}),
    "docstore": (docstore.run, {"mongo"}),
    "idle": (idle.run, {"postgres", "kafka", "mongo"}),
    "fulfilment": (fulfilment.run, {"postgres", "kafka"}),
    "personal": (personal.run, {"postgres", "kafka"}),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the system (servers from DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and"
        " MONGODB_URL, else the embedded stack); a missed target never fails the run.",
    )
    every = ",".join(PARTS)
    parser.add_argument("--only", default=every, help=f"comma-separated parts (default: {every})")
    parser.add_argument("--quick", action="store_true", help="a few seconds per part (smoke run)")
    parser.add_argument(
        "--out", type=Path, default=Path("bench/results.json"), help="default: bench/results.json"
    )
    parser.add_argument(
        "--freshness-rate",
        type=float,
        default=freshness.TARGET_RATE,
        help="commands/s of the freshness part"
        f" (default {freshness.TARGET_RATE:.0f}, the target's rate)",
    )
    args = parser.parse_args(argv)
    if args.freshness_rate <= 0:
        parser.error("--freshness-rate must be positive")
    args.options = {"freshness": {"offered": args.freshness_rate}}
    args.parts = [p.strip() for p in args.only.split(",") if p.strip()]
    if unknown := [p for p in args.parts if p not in PARTS]:
        parser.error(f"unknown part(s): {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    return args


async def run_part(
    name: str, stack: Stack, *, quick: bool, options: dict[str, Any] | None = None
) -> PartResult:
    print(f"\n-- {name}", flush=True)
    operations = await stack.mongo_operations()
    meter, started = CpuMeter().start(), time.perf_counter()
    try:
        result = await PARTS[name][0](stack, quick=quick, **(options or {}))
    except Exception as exc:
        traceback.print_exc()
        result = PartResult(name, status="error", notes=[f"the part broke: {exc!r}"])
    result.seconds = time.perf_counter() - started
    result.machine_load = meter.stop()
    if operations:
        after = await stack.mongo_operations()
        done = {op: after[op] - count for op, count in operations.items() if op in after}
        result.machine_load["mongodb_operations"] = {op: n for op, n in done.items() if n}
    print_part(result)
    try:
        await stack.settle()
    except Exception as exc:  # noqa: BLE001 - the next part still runs, beside the leftovers
        print(f"could not clear what {name} left on the servers: {exc!r}")
    return result


async def run_all(
    stack: Stack, parts: list[str], *, quick: bool, options: dict[str, dict[str, Any]]
) -> list[PartResult]:
    return [await run_part(n, stack, quick=quick, options=options.get(n)) for n in parts]


def measure(args: argparse.Namespace, workdir: Path, header: dict[str, Any]) -> list[PartResult]:
    """Start the servers, run the parts, describe the servers; stop what was started."""
    stack = Stack(workdir)
    with new_event_loop_runner() as runner:
        try:
            stack.start(set().union(*(PARTS[p][1] for p in args.parts)))
            results = runner.run(run_all(stack, args.parts, quick=args.quick, options=args.options))
            header["servers"] = runner.run(stack.describe())
            header["servers_note"] = (
                f"embedded PostgreSQL runs with {DURABLE_PG} (durable); servers from the"
                " environment are described as found"
            )
            return results
        finally:
            stack.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="ordering-bench-"))
    mode = " (quick)" if args.quick else ""
    print(f"benchmark: {', '.join(args.parts)}{mode}; work dir {workdir}", flush=True)
    header: dict[str, Any] = {
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "quick": args.quick,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": facts(workdir),
    }
    results: list[PartResult] = []
    try:
        results = measure(args, workdir, header)
        broke = any(r.status == "error" for r in results)
    except Exception:
        traceback.print_exc()
        broke = True
    header["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    header["machine"]["load_average_at_end"] = list(os.getloadavg())
    write_results(args.out, header, results)
    print_summary(results)
    print(f"\nresults written to {args.out}")
    if broke:
        print(f"the harness broke: logs kept in {workdir / 'logs'}")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
