"""The read service survives MongoDB going away mid-stream.

The write service and two read services run as real processes over the session's PostgreSQL,
Kafka and MongoDB, while a client sends commands. The proof of "nothing lost, nothing applied
twice" is twofold: the service that lost MongoDB ends with exactly the documents of a fresh one
(minus `_rev`, a write counter), and those documents agree with the write side's streams.
"""

import asyncio
import contextlib
import random
import time

import pytest

from tests.backends import Backend
from tests.e2e.crashes.catch_up import (
    CATCH_UP_TIMEOUT,
    assert_identical,
    projected,
    wait_ready_status,
    watch_catch_up,
)
from tests.e2e.crashes.cluster import Cluster
from tests.e2e.crashes.write_side import assert_matches_write_side, log_head, write_side_truth
from tests.e2e.crashes.writer import Writer, wait_sent

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


async def test_mongodb_stopped_mid_stream_loses_nothing_and_applies_nothing_twice(
    cluster: Cluster, mongo: Backend, staff_token: str
) -> None:
    if not mongo.can_restart:
        pytest.skip(f"the MongoDB backend ({mongo.kind}) cannot be stopped and started")
    began = time.monotonic()
    await cluster.start_write()
    r1 = await cluster.start_read("r1")
    writer = Writer(cluster.write.url, random.Random(20261122), cluster.headers)
    task = asyncio.create_task(writer.run(300, pause=0.03))
    try:
        await wait_sent(writer, task, 100, timeout=60)
        await asyncio.to_thread(mongo.stop)
        try:
            stopped_at = writer.sent
            noticed = await wait_ready_status(r1, 503, timeout=30)
            await wait_sent(writer, task, max(200, stopped_at + 50), timeout=60)
            restarted_at = writer.sent
        finally:
            await asyncio.to_thread(mongo.start)
        await asyncio.wait_for(task, timeout=120)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):  # raised above if it matters
            await task
    assert not writer.failures, "commands failed:\n" + "\n".join(writer.failures[:5])
    print(
        f"\nMongoDB stopped after command {stopped_at}, /health/ready 503 after {noticed:.1f}s,"
        f" started again after command {restarted_at}"
    )
    assert restarted_at - stopped_at >= 50, "too few commands were sent while MongoDB was down"

    head = await log_head(cluster.pg_url)
    await wait_ready_status(r1, 200, timeout=CATCH_UP_TIMEOUT)
    await watch_catch_up(r1, head)
    r2 = await cluster.start_read("r2")
    await watch_catch_up(r2, head)

    truth = await write_side_truth(cluster.pg_url)
    docs_1 = await projected(mongo.url, r1.env["MONGODB_DATABASE"])
    docs_2 = await projected(mongo.url, r2.env["MONGODB_DATABASE"])
    assert_identical(
        docs_1, docs_2, "the documents of the service that lost MongoDB and a fresh one"
    )
    assert_matches_write_side(docs_1, truth)
    print(f"{truth.events} events; test (b) took {time.monotonic() - began:.1f}s")
