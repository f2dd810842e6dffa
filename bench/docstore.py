"""Part 6, docstore: what the MongoDB server costs per document for the operations the read side
uses, so that the read-side figures can be read against it. Not a target: a yardstick.

One collection of order-like documents (three lines each) with the order_details indexes; each
operation runs over a sample of them in batches of 100, one round trip at a time.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient, ReplaceOne, UpdateMany

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


async def per_unit(units: int, work: Callable[[], Awaitable[Any]]) -> float:
    """Microseconds per document (or operation) of `work`."""
    started = time.perf_counter()
    await work()
    return (time.perf_counter() - started) * 1e6 / units


async def run(stack: Stack, *, quick: bool) -> PartResult:
    size, sample_size = (2_000, 400) if quick else (10_000, 2_000)
    result = PartResult("docstore")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.url("mongo"))
    name = stack.mongo_database(f"bench_docstore_{uuid.uuid4().hex[:8]}")
    coll = client[name]["orders"]
    try:
        await coll.create_index([("customer_id", 1), ("placed_at", -1), ("_id", -1)])
        await coll.create_index([("customer_id", 1), ("status", 1), ("placed_at", -1), ("_id", -1)])
        customers = [str(uuid.uuid4()) for _ in range(size // 5)]
        docs = [order(customers[n % len(customers)], n) for n in range(size)]
        sample = random.Random(5).sample(docs, sample_size)
        batches = [sample[i : i + BATCH] for i in range(0, sample_size, BATCH)]

        async def insert() -> None:
            for i in range(0, size, BATCH):
                await coll.insert_many(docs[i : i + BATCH], ordered=False)

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

        async def find_one() -> None:
            for doc in sample[:500]:
                await coll.find_one({"_id": doc["_id"]})

        async def update_many() -> None:
            for customer in customers[:200]:
                stale = {"customer_id": customer, "version": {"$lt": 0}}  # matches nothing
                await coll.bulk_write([UpdateMany(stale, {"$set": {"x": 1}})], ordered=False)

        result.add("insert_many_us_per_doc", await per_unit(size, insert), "µs")
        result.add("replace_guarded_us_per_doc", await per_unit(sample_size, replace_guarded), "µs")
        result.add("find_in_us_per_doc", await per_unit(sample_size, find_in(BATCH)), "µs")
        for values in IN_SIZES:  # the cost per document grows with the length of the $in list
            per_doc = await per_unit(sample_size, find_in(values))
            result.add(f"find_in_{values}_us_per_doc", per_doc, "µs")
        result.add("find_one_us_per_op", await per_unit(500, find_one), "µs")
        result.add("update_many_us_per_op", await per_unit(200, update_many), "µs")
    finally:
        await client.drop_database(name)
        await client.close()
    result.method = {
        "collection": f"{size:,} order documents (3 lines each), the order_details indexes",
        "operations": f"batches of {BATCH} per round trip: insert_many, ReplaceOne guarded on"
        " _rev, find by _id $in (also 25 and 400 values a query); find_one by _id one at a"
        " time; UpdateMany by an indexed customer_id matching nothing, one at a time",
    }
    return result
