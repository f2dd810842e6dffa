"""The fulfilment part's figures, tables and method, from what its runs measured."""

from __future__ import annotations

from typing import Any

from .fulfilment_probe import (
    GRACE_SECONDS,
    MAX_LINES,
    SEARCH_BOUND_MS,
    SEARCH_SECONDS,
    SEARCH_START,
    STOCK_PER_SKU,
    TARGET_P99_MS,
    TARGET_RATE,
    Measured,
    Runs,
)
from .http import CONNECTIONS, TARGET_SHARE
from .loadgen import overload_notes
from .stats import PartResult, Target, format_number, ratio
from .workload import SKUS

LATENCY = (
    "recorded_at of the order's OrderStockReserved (PostgreSQL's now(): when the process's"
    " transaction that appended it began, so the rest of that transaction up to its commit is"
    " not counted) minus the wall-clock time (time.time()) at which the POST /orders response"
    " arrived; both read this machine's clock when PostgreSQL is embedded (with DATABASE_URL on"
    " another host, the offset between the two clocks is in the figure); an order reserved"
    " before its response reached the client counts negative"
)
# CPU per order of these processes, when the part can see them (embedded servers only)
ACCOUNTED = {"write service": "write", "postgresql": "postgresql", "kafka broker": "kafka"}


def report(runs: Runs, *, quick: bool, customers: int, wrk: bool) -> PartResult:
    """The part's result: the fixed rate, the search, the commands beside the bare endpoint."""
    seconds, warmup = (3.0, 1.0) if quick else (30.0, 3.0)
    result = report_fixed(runs.fixed, seconds=seconds, warmup=warmup, customers=customers)
    report_search(result, runs.steps, runs.notes)
    result.method["stock_stream_events_after_search"] = runs.stock_versions
    if runs.service is not None and runs.bare is not None:
        report_versus_bare(result, runs.service, runs.bare)
    elif not wrk:
        result.notes.append(
            "wrk is not available (apt-get install -y wrk): commands_vs_bare left out"
        )
    return result


def report_fixed(fixed: Measured, *, seconds: float, warmup: float, customers: int) -> PartResult:
    """The run at the fixed rate: its figures, the target."""
    result = PartResult("fulfilment")
    result.method = {
        "load_generator": "open loop (bench.loadgen, asyncio + uvloop, HTTP/1.1 keep-alive)",
        "rate_per_s": fixed.offered,
        "seconds": seconds,
        "warmup_seconds": warmup,
        "orders": f"POST /orders with 1 to {MAX_LINES} lines of distinct SKUs drawn (seeded) from"
        f" {len(SKUS)}, quantity 1 each, over {customers} customers",
        "stock": f"a receipt of {STOCK_PER_SKU:,} units per SKU before the run (POST"
        " /stock/{sku}/receipts): every line tracked, no order short",
        "write_service": "1 uvicorn worker, relay on (publishing to Kafka), fulfilment process"
        " on (FULFILMENT_ENABLED=true), no read service",
        "latency": LATENCY,
        "not_reserved": f"orders neither reserved nor rejected {GRACE_SECONDS:.0f} s after the"
        " last answer count with the time they had waited (lower bounds)",
        "cpu_per_order": "CPU time of each process (children included, from /proc) from the"
        " start of the measured run until every order was reserved (or the grace ended), over"
        " the orders of the run: the write service's covers the command, the relay and the"
        " process",
        "reserved_samples": len(fixed.paired.latencies),
        "load": fixed.load.as_dict(),
    }
    result.add_latency("reserved", fixed.reserved)
    result.add_latency("command", fixed.command)
    result.add("achieved_rate", fixed.achieved, "orders/s")
    result.add("failed", fixed.load.failed, "orders")
    result.add("unfinished", len(fixed.load.unfinished_ages), "orders")
    result.add("not_reserved", len(fixed.paired.censored), "orders")
    result.add("rejected", fixed.paired.rejected, "orders")
    for role, key in ACCOUNTED.items():
        if role in fixed.cpu and fixed.orders:
            result.add(f"{key}_cpu_per_order", 1e6 * fixed.cpu[role] / fixed.orders, "µs")
    result.targets.append(
        Target(
            f"OrderStockReserved p99 at {TARGET_RATE:.0f} orders/s",
            fixed.reserved.p99_ms,
            "<=",
            TARGET_P99_MS,
            "ms",
        )
    )
    result.notes += run_notes(fixed)
    return result


def run_notes(run: Measured) -> list[str]:
    """Plain words for what did not go as planned in one run."""
    notes = overload_notes(run.load, "orders")
    if run.achieved < run.offered * 0.95:
        notes.append(f"the offered {run.offered:.0f}/s was not reached ({run.achieved:.0f}/s)")
    if censored := len(run.paired.censored):
        notes.append(
            f"{censored} orders were not reserved {GRACE_SECONDS:.0f} s after the last answer:"
            " they count with the time they had waited, so the percentiles are lower bounds"
        )
    if run.paired.rejected:
        notes.append(f"{run.paired.rejected} orders were rejected (short of stock)")
    return notes


def report_search(result: PartResult, steps: list[Measured], notes: list[str]) -> None:
    """The search's steps, in the order taken, and the highest rate that passed."""
    rows: list[tuple[str, ...]] = [
        ("step", "offered/s", "achieved/s", "orders", "reserved p50", "reserved p99", "verdict")
    ]
    for n, step in enumerate(steps, 1):
        verdict = "pass" if step.passed else "fail" + ("" if step.load.kept_up else " (overloaded)")
        p50, p99 = (
            f"{format_number(ms)} ms" for ms in (step.reserved.p50_ms, step.reserved.p99_ms)
        )
        shown = (f"{step.offered:.0f}", f"{step.achieved:.0f}", str(step.orders), p50, p99)
        rows.append((str(n), *shown, verdict))
    title = (
        f"search for the highest rate with every order reserved, p99 <= {SEARCH_BOUND_MS:.0f} ms"
    )
    result.tables[title] = rows
    result.add(
        "search_highest_rate", max((s.offered for s in steps if s.passed), default=0.0), "orders/s"
    )
    result.method["search"] = (
        f"{SEARCH_SECONDS:.0f} s steps from {SEARCH_START:.0f}/s: doubled while a step passed,"
        " halved while it failed, then bisected; a step passes when every order was answered"
        f" and reserved, the p99 to OrderStockReserved is within {SEARCH_BOUND_MS:.0f} ms and 95%"
        " of the offered rate was reached; the process caught up before each step"
    )
    result.method["search_steps"] = [step_dict(s) for s in steps]
    result.notes += notes


def step_dict(step: Measured) -> dict[str, Any]:
    return {
        "offered_per_s": step.offered,
        "achieved_per_s": round(step.achieved, 1),
        "reserved_p50_ms": round(step.reserved.p50_ms, 1),
        "reserved_p99_ms": round(step.reserved.p99_ms, 1),
        "orders": step.orders,
        "not_reserved": len(step.paired.censored),
        "rejected": step.paired.rejected,
        "passed": step.passed,
        "load": step.load.as_dict(),
    }


def report_versus_bare(result: PartResult, service: dict[str, Any], bare: dict[str, Any]) -> None:
    """The http part's wrk run on these orders, against the bare endpoint's."""
    share = ratio(service["rate"], bare["rate"])
    process = service["process"]
    result.add("commands_per_s", service["rate"], "requests/s")
    result.add("commands_p99", service["p99_us"] / 1000, "ms")
    result.add("bare_per_s", bare["rate"], "requests/s")
    result.add("commands_vs_bare", share * 100, "%")
    result.add("process_behind_after_wrk", process["behind_at_end"], "orders")
    result.add("process_drain_rate", process["drain_rate"], "orders/s")
    result.method["versus_bare"] = (
        f"the http part's wrk run (1 thread, {CONNECTIONS} keep-alive connections, closed loop)"
        " of POST /orders on these bodies, against the write service with the process at work,"
        " then against bench.bare_app with the write service stopped; then the orders the"
        " process had not settled when wrk ended, and the rate it settled them at afterwards"
        f" (for up to a minute); the http part's target for untracked orders is"
        f" {TARGET_SHARE * 100:.0f}%"
    )
    result.method["wrk_service"] = service
    result.method["wrk_bare"] = bare
    if service["errors"]:
        result.notes.append(f"{service['errors']} command requests failed or were not 2xx")
    if process["left_after_drain"]:
        result.notes.append(
            f"{process['left_after_drain']} orders of the wrk run were still not reserved"
            f" {format_number(process['drain_seconds'])} s after it ended"
        )
