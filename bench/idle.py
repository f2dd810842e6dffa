"""Part 8, idle: what the whole stack costs at rest.

The stack of `make run` (PostgreSQL, the broker, MongoDB, the development token issuer, both
services) gets a few commands, until the read side has applied them; then, with nothing sent,
each process's CPU time (with its children's) is read over a minute from /proc. Also counted
over that minute: MongoDB's operations and PostgreSQL's transactions, which show who keeps the
servers busy when nobody uses the system. Then the same minute again with the operator console
open on its overview in a headless browser (console_idle.py): what a console left open costs
the stack (the browser's own CPU is not counted).
"""

from __future__ import annotations

import asyncio

import asyncpg

from .console_idle import console_open, missing
from .httpclient import HttpPool
from .processes import running, start_pair
from .readside import wait_caught_up
from .servers import Stack, mongo_client
from .stats import PartResult, Target, rate
from .usage import Usage, server_pids, usage
from .workload import add_item_body, bearer, email_address, place_order_body

TARGET_PERCENT = 2.0  # of one core, the whole stack
CONSOLE_TARGET_PERCENT = 1.0  # of one core, more than without the console
COMMANDS = 3  # orders placed, each given an item, after a customer registered
TRANSACTIONS = "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1"


async def warm_up(write: HttpPool, read: HttpPool) -> None:
    """A few commands through the whole pipeline, until the read side has applied them."""
    body = {"name": "Customer 0", "email": email_address(0)}
    answers = [await write.request("POST", "/customers", json=body)]
    customer = answers[0].json()["id"] if answers[0].status == 201 else ""
    for n in range(COMMANDS):
        placed = await write.request("POST", "/orders", json=place_order_body(customer, n))
        answers.append(placed)
        if placed.status == 201:
            path = f"/orders/{placed.json()['id']}/items"
            answers.append(await write.request("POST", path, json=add_item_body(n + 2)))
    if failed := [a for a in answers if a.status not in (200, 201)]:
        raise RuntimeError(f"a command answered {failed[0].status}: {failed[0].body[:200]!r}")
    await wait_caught_up(write, read)


async def transactions(database_url: str, database: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(TRANSACTIONS, database) or 0)
    finally:
        await conn.close()


async def run(stack: Stack, *, quick: bool) -> PartResult:
    seconds = 10.0 if quick else 60.0
    result = PartResult("idle")
    database_url = await stack.create_database("bench_idle")
    database = database_url.rsplit("/", 1)[1]
    write_service, read_service = await asyncio.to_thread(
        start_pair, stack, database_url, console=True
    )
    with running(write_service, read_service):
        token = await asyncio.to_thread(stack.token)
        write = HttpPool(write_service.url, headers=bearer(token))
        read = HttpPool(read_service.url, headers=bearer(token))
        try:
            await warm_up(write, read)
        finally:
            await write.close()
            await read.close()
        pids = {"write service": write_service.pid, "read service": read_service.pid}
        pids |= server_pids(stack)
        mongo_db = read_service.env["MONGODB_DATABASE"]
        print(f"  idle: {seconds:.0f} s at rest ...", flush=True)
        async with mongo_client(stack.url("mongo")) as mongo:

            async def at_rest() -> tuple[Usage, int]:
                committed = await transactions(stack.url("postgres"), database)
                before = await usage(pids, mongo, mongo_db)
                await asyncio.sleep(seconds)  # the measurement itself: nothing runs meanwhile
                spent = (await usage(pids, mongo, mongo_db)).since(before)
                return spent, await transactions(stack.url("postgres"), database) - committed

            spent, committed = await at_rest()
            console: tuple[Usage, Usage] | None = None
            if (why := missing()) is None:
                print(f"  idle: {seconds:.0f} s at rest, the console open ...", flush=True)
                async with console_open(stack, read_service.url):
                    opened, _ = await at_rest()
                print(f"  idle: {seconds:.0f} s at rest again, the console closed ...", flush=True)
                console = (opened, (await at_rest())[0])
            else:
                result.notes.append(f"the console was not opened: {why}")
    rows: list[tuple[str, ...]] = [("process", "CPU, % of one core")]
    for name in sorted(pids, key=lambda n: -spent.cpu.get(n, 0.0)):
        key = f"{name.replace(' ', '_')}_cpu_percent_of_a_core"
        share = result.add(key, spent.share_of_a_core(name), "%")
        rows.append((name, share.text()))
    total = 100.0 * sum(spent.cpu.values()) / spent.at
    rows.append(("stack", result.add("stack_cpu_percent_of_a_core", total, "%").text()))
    result.tables["CPU at rest"] = rows
    result.add("mongodb_ops_per_s", rate(spent.database_ops.get("total", 0), spent.at), "/s")
    result.add("mongodb_server_ops_per_s", rate(sum(spent.server_ops.values()), spent.at), "/s")
    result.add("postgresql_transactions_per_s", rate(committed, spent.at), "/s")
    result.targets.append(Target("stack CPU at rest", total, "<=", TARGET_PERCENT, "% of a core"))
    if console is not None:
        # Against the windows before and after it: the first one begins as the consumers
        # come to rest, which the second one does not see.
        with_it, after = console
        open_share = 100.0 * sum(with_it.cpu.values()) / with_it.at
        closed_share = 100.0 * sum(after.cpu.values()) / after.at
        shown = result.add("stack_cpu_console_open", open_share, "%").text()
        rows.append(("stack, console open", shown))
        shown = result.add("stack_cpu_after_console", closed_share, "%").text()
        rows.append(("stack, console closed again", shown))
        increase = open_share - (total + closed_share) / 2
        more = result.add("console_open_cpu_increase", increase, "% of a core")
        rows.append(("console's cost", more.text()))
        for name in pids:
            key = f"{name.replace(' ', '_')}_cpu_console_open"
            result.add(key, with_it.share_of_a_core(name), "%")
        result.targets.append(
            Target(
                "console open: more CPU at rest",
                increase,
                "<=",
                CONSOLE_TARGET_PERCENT,
                "% of a core",
            )
        )
    result.method = {
        "stack": ", ".join(pids),
        "warm_up": f"a customer registered, {COMMANDS} orders placed and given an item each,"
        " until every projection applied them (GET /projections)",
        "seconds": round(spent.at, 1),
        "console": "the same again with the console signed in as `operator` and left on its"
        " overview in headless Chromium (its own CPU not counted): *_console_open, and"
        " console_open_cpu_increase: the stack's CPU with it less the mean of the windows before"
        " and after it (without)",
        "cpu": "utime + stime of each process and its children (/proc), at the start and the end",
        "mongodb_ops_per_s": "MongoDB's `top` counts over the read service's database; by"
        " section in mongodb_ops; mongodb_server_ops_per_s: serverStatus opcounters, all of"
        " the server (the benchmark's own two serverStatus and top commands included)",
        "mongodb_ops": spent.database_ops,
        "mongodb_server_opcounters": spent.server_ops,
        "postgresql_transactions_per_s": "pg_stat_database commits and rollbacks of the write"
        " service's database (PostgreSQL publishes them about once a second)",
    }
    if not stack.servers or any(s.local is None for s in stack.servers.values()):
        result.notes.append("servers from the environment: only the processes started here count")
    return result
