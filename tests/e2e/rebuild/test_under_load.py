"""`make rebuild-projections` under load, end to end: real write and read services, Kafka,
MongoDB. The rebuild command runs as the operator runs it (a subprocess with the read service's
environment). While it runs, every query keeps answering with the document it answered before
(or a newer one); and the result is document-for-document what a read service that never
rebuilt holds (the reference, a second read service over the same topics, minus `_rev`).

Waits are bounded polls on observable conditions, never fixed sleeps.
"""

import asyncio
import re

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.e2e.rebuild.command import PHASES, rebuild
from tests.e2e.rebuild.database import Doc, ReadDatabase, assert_like_reference, assert_only_version
from tests.e2e.rebuild.serving import wait_applied, wait_live
from tests.e2e.rebuild.workload import Queries, Workload
from tests.openapi import assert_documented
from tests.read_side import PROJECTIONS
from tests.services import RunningService

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


async def test_rebuilding_every_projection_under_load_serves_without_a_gap(
    write_service: RunningService,
    staff_token: str,
    read_service: RunningService,
    reference: RunningService,
    workload: Workload,
    reader: httpx.AsyncClient,
    rebuilt: ReadDatabase,
    mongo_client: AsyncMongoClient[Doc],
) -> None:
    await wait_applied(write_service, read_service)
    before = {p: await rebuilt.active(p) for p in PROJECTIONS}
    queries = Queries(
        reader, list(workload.orders), list(workload.customers), workload.ordering_customers()
    )
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(workload.run_until(stop)),
        asyncio.create_task(queries.run_until(stop)),
        asyncio.create_task(queries.run_until(stop)),
    ]
    sent = workload.sent
    try:
        done = await rebuild(read_service.env)
        answered, sent = queries.answered, workload.sent - sent
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    print(f"\nduring the rebuild: {sent} commands, {answered} queries\n{done.stdout}")
    assert done.code == 0, done
    summaries = done.summaries()
    assert sorted(summaries) == sorted(PROJECTIONS), done
    for projection, summary in summaries.items():
        assert int(summary["version"]) == before[projection] + 1, summary.group(0)
        assert int(summary["events"].replace(",", "")) > 0, summary.group(0)
        # where the time went (a small projection's indexes take less than the 0.1 s shown, so
        # only the presence of each figure is checked), and the long steps with no pages to
        # count shown as they begin
        phases = re.search(rf"^{projection}: .*\n  serving it after {PHASES}", done.stdout, re.M)
        assert phases is not None, done.stdout
        for step in ("writing documents", "building indexes"):
            shown = re.search(rf"^{projection}: .* \[{step}\]$", done.stdout, re.M)
            assert shown is not None, f"{projection} never showed [{step}]:\n{done.stdout}"
    assert not workload.errors, workload.errors
    assert sent > 0 and answered > 0, "the load did not run during the rebuild"
    assert not queries.failures, f"{len(queries.failures)} failed queries:\n" + "\n".join(
        queries.failures[:20]
    )

    await wait_applied(write_service, read_service, reference)
    await wait_live(read_service, {p: v + 1 for p, v in before.items()})
    status = await reader.get("/projections")  # each with its finished rebuild, as documented
    assert all(p["rebuild"]["phase"] == "done" for p in status.json()["projections"]), status.text
    assert_documented((await reader.get("/openapi.json")).json(), "/projections", "get", status)
    for projection in PROJECTIONS:
        await assert_only_version(rebuilt, projection, before[projection] + 1)
    theirs = ReadDatabase(mongo_client, reference.env["MONGODB_DATABASE"])
    # The workload places orders through the write API: no stock is received there (yet).
    await assert_like_reference(rebuilt, theirs, PROJECTIONS, may_be_empty=("stock",))
