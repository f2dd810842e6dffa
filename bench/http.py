"""Part 2, commands over HTTP: POST /orders with 32 keep-alive clients (wrk, closed loop), next to
a bare FastAPI endpoint taking the same body on the same uvicorn setup (the framework's ceiling).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson

from .processes import running, start_bare, start_write
from .servers import Stack
from .stats import PartResult, Target, rate, ratio
from .workload import place_order_body, register_customers

CONNECTIONS = 32
CUSTOMERS = 200
TARGET_SHARE = 0.45
TARGET_P99_MS = 50.0

LUA = """
local bodies = {%(bodies)s}
local count = 0
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(token)s"}

request = function()
  count = count + 1
  return wrk.format("POST", "/orders", headers, bodies[count %% #bodies + 1])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"connect\\": %%d, \\"read\\": %%d," ..
    " \\"write\\": %%d, \\"status\\": %%d, \\"timeout\\": %%d, \\"p50_us\\": %%d," ..
    " \\"p99_us\\": %%d, \\"max_us\\": %%d, \\"mean_us\\": %%.1f}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, latency.mean))
end
"""


def ensure_wrk() -> str | None:
    """wrk from PATH; installed from Debian's packages when missing and we may (root, apt)."""
    if found := shutil.which("wrk"):
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print("  http: wrk is not installed and cannot be installed here (needs root and apt-get)")
        return None
    install = ["apt-get", "install", "-y", "wrk"]
    for steps in ([install], [["apt-get", "update"], install]):
        for step in steps:
            print(f"  http: wrk is missing; running `{' '.join(step)}`", flush=True)
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(step, capture_output=True, timeout=600, env=env)
        if found := shutil.which("wrk"):
            return found
    print("  http: could not install wrk")
    return None


async def wrk_or_skip(result: PartResult) -> str | None:
    """wrk (see ensure_wrk), or None with `result` marked skipped."""
    wrk = await asyncio.to_thread(ensure_wrk)
    if wrk is None:
        result.status = "skipped"
        result.notes.append("wrk is not available (apt-get install -y wrk): part skipped")
    return wrk


def durations(quick: bool) -> tuple[float, float]:
    """Seconds measured and seconds of warm-up, per wrk run."""
    return (3.0, 1.0) if quick else (20.0, 3.0)


def write_script(path: Path, customers: list[str], token: str) -> Path:
    # Lua long strings need no escaping; JSON never holds their closing "]==]"
    bodies = ", ".join(
        f"[==[{orjson.dumps(place_order_body(c, n)).decode()}]==]" for n, c in enumerate(customers)
    )
    path.write_text(LUA % {"bodies": bodies, "token": token})
    return path


def run_wrk(wrk: str, url: str, script: Path, seconds: float) -> dict[str, Any]:
    """One wrk run: 1 thread (it is cheap), 32 connections; returns its summary."""
    command = [wrk, "-t", "1", "-c", str(CONNECTIONS), "-d", f"{max(1, round(seconds))}s"]
    command += ["--timeout", "10s", "-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    found = re.search(r"^BENCH (\{.*\})$", done.stdout, re.M)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    summary: dict[str, Any] = orjson.loads(found.group(1))
    summary["rate"] = rate(summary["requests"], summary["duration_us"] / 1e6)
    summary["errors"] = sum(summary[k] for k in ("connect", "read", "write", "status", "timeout"))
    return summary


async def measure(wrk: str, url: str, script: Path, *, seconds: float, warmup: float) -> Any:
    await asyncio.to_thread(run_wrk, wrk, url, script, warmup)
    return await asyncio.to_thread(run_wrk, wrk, url, script, seconds)


async def run(stack: Stack, *, quick: bool) -> PartResult:
    result = PartResult("http")
    if (wrk := await wrk_or_skip(result)) is None:
        return result
    seconds, warmup = durations(quick)
    database = await stack.create_database("bench_http")
    write = await asyncio.to_thread(start_write, stack, database)
    with running(write):
        token = await asyncio.to_thread(stack.token)
        customers = await register_customers(write.url, 20 if quick else CUSTOMERS, token=token)
        # the bare endpoint gets the same requests, token included, and ignores it
        script = write_script(stack.workdir / "orders.lua", customers, token)
        print(f"  http: write service, POST /orders, {CONNECTIONS} connections ...", flush=True)
        service = await measure(wrk, write.url, script, seconds=seconds, warmup=warmup)
    bare_app = await asyncio.to_thread(start_bare, stack)
    with running(bare_app):
        print(f"  http: bare endpoint, {CONNECTIONS} connections ...", flush=True)
        bare = await measure(wrk, bare_app.url, script, seconds=seconds, warmup=warmup)
    result.method = {
        "load_generator": f"wrk, 1 thread, {CONNECTIONS} keep-alive connections (closed loop)",
        "command": "POST /orders (PlaceOrder: check the bearer token, load the customer, append"
        " OrderPlaced)",
        "customers": len(customers),
        "seconds": seconds,
        "warmup_seconds": warmup,
        "write_service": "1 uvicorn worker, relay on (publishing to Kafka), no read service",
        "bare_endpoint": "bench.bare_app: same body model and answer, no middleware, no I/O",
        "wrk_service": service,
        "wrk_bare": bare,
    }
    share = ratio(service["rate"], bare["rate"])
    p99 = service["p99_us"] / 1000
    result.add("commands_per_s", service["rate"], "requests/s")
    result.add("commands_p50", service["p50_us"] / 1000, "ms")
    result.add("commands_p99", p99, "ms")
    result.add("commands_errors", service["errors"], "requests")
    result.add("bare_per_s", bare["rate"], "requests/s")
    result.add("bare_p50", bare["p50_us"] / 1000, "ms")
    result.add("bare_p99", bare["p99_us"] / 1000, "ms")
    result.add("commands_vs_bare", share * 100, "%")
    result.targets += [
        Target("commands vs bare endpoint", share * 100, ">=", TARGET_SHARE * 100, "%"),
        Target("commands p99 latency", p99, "<=", TARGET_P99_MS, "ms"),
    ]
    if service["errors"]:
        result.notes.append(f"{service['errors']} command requests failed or were not 2xx")
    return result
