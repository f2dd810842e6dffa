"""Part 6, docstore: what the MongoDB server costs per document for the operations the read side
uses, so that the read-side figures can be read against it. Not a target: a yardstick.

One collection of order-like documents (three lines each) with the order_details indexes; each
operation runs over a sample of them in batches of 100, one round trip at a time. Each figure is
wall time per document (or operation); with the embedded server, its own CPU time per document
is recorded beside it (`*_server_cpu_us`), and from it the most such operations a second that
one server process could do if it did nothing else: SecantusDB runs its work under one GIL, so
its CPU time per operation bounds its throughput whatever the number of cores.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient, ReplaceOne, UpdateMany

from .cpu import process_stat
from .servers import Stack
from .stats import PartResult

BATCH = 100
IN_SIZES = (25, 400)


def order(customer: str, n: int) -> dict[str, Any]:
    line = {"sku": f"SKU-{n % 40:03d}", "name": "Desk lamp", "quantity": 1, "unit_price": "9.90"}
    return {
        "_id": str(uuid.uuid4()),
        "customer_id": customer,
        "placed_at": n,
        "status": "placed",
        "lines": [line, line, line],
        "total": "29.70",
        "version": 1,
        "_rev": 1,
    }


class Meter:
    """Wall time, and the server's CPU time when its process is ours to read, per unit of work."""

    def __init__(self, result: PartResult, server_pid: int | None) -> None:
        self.result, self.server_pid = result, server_pid

    def _cpu(self) -> float | None:
        found = None if self.server_pid is None else process_stat(self.server_pid)
        return None if found is None else found[1]

    async def measure(
        self, name: str, units: int, work: Callable[[], Awaitable[Any]], unit: str = "doc"
    ) -> None:
        cpu, started = self._cpu(), time.perf_counter()
        await work()
        wall, cpu_after = time.perf_counter() - started, self._cpu()
        self.result.add(f"{name}_us_per_{unit}", wall * 1e6 / units, "µs")
        if cpu is not None and cpu_after is not None and cpu_after > cpu:
            per_unit = (cpu_after - cpu) * 1e6 / units
            self.result.add(f"{name}_server_cpu_us_per_{unit}", per_unit, "µs")
            self.result.add(f"{name}_server_ceiling_per_s", 1e6 / per_unit, f"{unit}s/s")


async def run(stack: Stack, *, quick: bool) -> PartResult:
    size, sample_size = (2_000, 400) if quick else (10_000, 2_000)
    result = PartResult("docstore")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.url("mongo"))
    name = stack.mongo_database(f"bench_docstore_{uuid.uuid4().hex[:8]}")
    coll, plain = client[name]["orders"], client[name]["orders_unindexed"]
    local = stack.servers["mongo"].local
    meter = Meter(result, None if local is None else local.pid)
    indexes = [
        [("customer_id", 1), ("placed_at", -1), ("_id", -1)],
        [("customer_id", 1), ("status", 1), ("placed_at", -1), ("_id", -1)],
    ]
    try:
        for keys in indexes:
            await coll.create_index(keys)
        customers = [str(uuid.uuid4()) for _ in range(size // 10)]  # a page of ten orders each
        docs = [order(customers[n % len(customers)], n) for n in range(size)]
        sample = random.Random(5).sample(docs, sample_size)
        batches = [sample[i : i + BATCH] for i in range(0, sample_size, BATCH)]

        async def insert() -> None:
            for i in range(0, size, BATCH):
                await coll.insert_many(docs[i : i + BATCH], ordered=False)

        async def insert_unindexed() -> None:  # as a rebuild loads, before its indexes exist
            for i in range(0, size, BATCH):
                await plain.insert_many(docs[i : i + BATCH], ordered=False)

        async def build_indexes() -> None:
            for keys in indexes:
                await plain.create_index(keys)

        async def replace_guarded() -> None:
            for batch in batches:
                ops = [ReplaceOne({"_id": d["_id"], "_rev": 1}, {**d, "_rev": 2}) for d in batch]
                await coll.bulk_write(ops, ordered=False)

        def find_in(size: int) -> Callable[[], Awaitable[None]]:
            async def work() -> None:
                for i in range(0, sample_size, size):
                    wanted = [d["_id"] for d in sample[i : i + size]]
                    await coll.find({"_id": {"$in": wanted}}).to_list()

            return work

        async def replace_unguarded() -> None:  # the same documents again, by _id alone
            for batch in batches:
                ops = [ReplaceOne({"_id": d["_id"]}, {**d, "_rev": 3}) for d in batch]
                await coll.bulk_write(ops, ordered=False)

        async def find_one() -> None:
            for doc in sample[:500]:
                await coll.find_one({"_id": doc["_id"]})

        async def customer_page() -> None:  # GET /customers/{id}/orders: newest first, a page
            for customer in customers[:200]:
                newest = coll.find({"customer_id": customer}).sort([("placed_at", -1), ("_id", -1)])
                await newest.limit(21).to_list()

        async def update_many() -> None:
            for customer in customers[:200]:
                stale = {"customer_id": customer, "version": {"$lt": 0}}  # matches nothing
                await coll.bulk_write([UpdateMany(stale, {"$set": {"x": 1}})], ordered=False)

        await meter.measure("insert_many", size, insert)
        await meter.measure("insert_many_unindexed", size, insert_unindexed)
        await meter.measure("index_build", size, build_indexes)
        await meter.measure("replace_guarded", sample_size, replace_guarded)
        await meter.measure("replace_unguarded", sample_size, replace_unguarded)
        await meter.measure("find_in", sample_size, find_in(BATCH))
        for values in IN_SIZES:  # the cost per document grows with the length of the $in list
            await meter.measure(f"find_in_{values}", sample_size, find_in(values))
        await meter.measure("find_one", 500, find_one, unit="op")
        await meter.measure("customer_page", 200, customer_page, unit="op")
        await meter.measure("update_many", 200, update_many, unit="op")
    finally:
        await client.drop_database(name)
        await client.close()
    result.method = {
        "collection": f"{size:,} order documents (3 lines each), the order_details indexes",
        "operations": f"batches of {BATCH} per round trip: insert_many (into the indexed"
        " collection, and into one without indexes whose two indexes are then built),"
        " ReplaceOne guarded on _rev and by _id alone, find by _id $in (also 25 and 400 values"
        " a query); one at a time: find_one by _id, a customer's newest orders (sort, limit"
        " 21), UpdateMany by an indexed customer_id matching nothing",
        "server_cpu": "the MongoDB server process's CPU time over each operation (embedded"
        " server only); *_server_ceiling_per_s = 1e6 / that: its most such units a second",
    }
    return result
