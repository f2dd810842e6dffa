"""Part `traced`: the commands part (POST /orders, wrk, 32 connections) with tracing off, then
on with every command traced, then on with one new trace in ten sampled (the Kubernetes
settings' ratio); spans go over OTLP/HTTP to a real receiver in a process of its own. The cost
of tracing per command, in requests/s and in the write service's CPU."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from deploy.local.stack import free_port, spawn, stop_process

from .cpu import tree_cpu_seconds
from .http import CONNECTIONS, durations, run_wrk, write_script, wrk_or_skip
from .processes import ROOT, running, start_write
from .servers import Stack
from .stats import PartResult
from .workload import register_customers

CUSTOMERS = 200
# Off is said explicitly: a variable of the calling shell must not turn it on.
OFF = {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": ""}


SAMPLED_RATIO = 0.1


def tracing_on(receiver: str, ratio: float = 1.0) -> dict[str, str]:
    """New traces sampled at `ratio` (every one by default), exported to `receiver` over
    OTLP/HTTP."""
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver,
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": str(ratio),
    }


def start_receiver(workdir: Path) -> tuple[Any, str]:
    """`python -m bench.otlp` on a free port, once it answers."""
    port = free_port()
    log = workdir / "logs" / "otlp-receiver.log"
    proc = spawn([sys.executable, "-m", "bench.otlp", "--port", str(port)], log, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/stats", timeout=1).raise_for_status()
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_process(proc, timeout=5)
    raise RuntimeError("the OTLP receiver did not start")


def received(url: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{url}/stats", timeout=5).json()
    return stats


async def measure(
    stack: Stack, wrk: str, env: dict[str, str], name: str, *, seconds: float, warmup: float
) -> dict[str, Any]:
    """One write service with `env`: wrk's summary and the service's CPU over the run."""
    database = await stack.create_database(f"bench_traced_{name}")
    write = await asyncio.to_thread(start_write, stack, database, extra=env)
    with running(write):
        token = await asyncio.to_thread(stack.token)
        customers = await register_customers(write.url, CUSTOMERS, token=token)
        script = write_script(stack.workdir / f"traced-{name}.lua", customers, token)
        print(f"  traced: write service, tracing {name}, {CONNECTIONS} connections ...", flush=True)
        await asyncio.to_thread(run_wrk, wrk, write.url, script, warmup)
        before = tree_cpu_seconds({"write": write.pid})["write"]
        summary = await asyncio.to_thread(run_wrk, wrk, write.url, script, seconds)
        summary["cpu_seconds"] = tree_cpu_seconds({"write": write.pid})["write"] - before
    return summary


async def run(stack: Stack, *, quick: bool) -> PartResult:
    result = PartResult("traced")
    if (wrk := await wrk_or_skip(result)) is None:
        return result
    seconds, warmup = durations(quick)
    off = await measure(stack, wrk, OFF, "off", seconds=seconds, warmup=warmup)
    receiver, url = await asyncio.to_thread(start_receiver, stack.workdir)
    try:
        start = await asyncio.to_thread(received, url)
        receiver_cpu = tree_cpu_seconds({"receiver": receiver.pid})["receiver"]
        on = await measure(stack, wrk, tracing_on(url), "on", seconds=seconds, warmup=warmup)
        # what the last export (at most OTEL_BSP_SCHEDULE_DELAY late) brought is counted too:
        # the service flushes its spans as it stops
        end = await asyncio.to_thread(received, url)
        receiver_cpu = tree_cpu_seconds({"receiver": receiver.pid})["receiver"] - receiver_cpu
        env = tracing_on(url, SAMPLED_RATIO)
        sampled = await measure(stack, wrk, env, "sampled", seconds=seconds, warmup=warmup)
    finally:
        stop_process(receiver, timeout=5)
    spans = end["spans"] - start["spans"]
    commands = on["requests"] + 2 * CUSTOMERS  # the registrations and the warm-up were traced too
    result.method = {
        "load_generator": f"wrk, 1 thread, {CONNECTIONS} keep-alive connections (closed loop)",
        "command": "POST /orders, as in the http part; 1 uvicorn worker, relay on",
        "seconds": seconds,
        "warmup_seconds": warmup,
        "tracing_on": "OTEL_TRACES_EXPORTER=otlp (http/protobuf) to bench.otlp in its own"
        " process, sampler parentbased_always_on (every command), batch span processor defaults",
        "tracing_off": "OTEL_TRACES_EXPORTER=none: nothing installed",
        "wrk_off": off,
        "wrk_on": on,
        "tracing_sampled": f"the same, new traces sampled at {SAMPLED_RATIO}",
        "wrk_sampled": sampled,
        "receiver": end,
    }
    per_off = 1e6 * off["cpu_seconds"] / max(1, off["requests"])
    per_on = 1e6 * on["cpu_seconds"] / max(1, on["requests"])
    per_sampled = 1e6 * sampled["cpu_seconds"] / max(1, sampled["requests"])
    result.add("off_commands_per_s", off["rate"], "requests/s")
    result.add("on_commands_per_s", on["rate"], "requests/s")
    result.add("on_vs_off", 100 * on["rate"] / off["rate"] if off["rate"] else 0.0, "%")
    result.add("off_p99", off["p99_us"] / 1000, "ms")
    result.add("on_p99", on["p99_us"] / 1000, "ms")
    result.add("off_cpu_per_command", per_off, "µs")
    result.add("on_cpu_per_command", per_on, "µs")
    result.add("tracing_cpu_per_command", per_on - per_off, "µs")
    result.add("sampled_commands_per_s", sampled["rate"], "requests/s")
    result.add("sampled_p99", sampled["p99_us"] / 1000, "ms")
    result.add("sampled_tracing_cpu_per_command", per_sampled - per_off, "µs")
    result.add("spans_per_command", spans / max(1, commands), "spans")
    result.add("otlp_bytes_per_command", (end["bytes"] - start["bytes"]) / max(1, commands), "B")
    result.add("receiver_cpu_seconds", receiver_cpu, "s")
    runs = (("off", off), ("on", on), ("sampled", sampled))
    errors = {k: v["errors"] for k, v in runs if v["errors"]}
    if errors:
        result.notes.append(f"command requests failed or were not 2xx: {errors}")
    return result
