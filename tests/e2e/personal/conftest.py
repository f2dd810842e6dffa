"""The personal-data tests' fixtures, once for the module: a canary customer erased beside a
neighbour who stays, the key rows a backup taken before the erasure holds, and every place a
value may be kept."""

from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from deploy.local.stack import LocalIssuer
from tests.auth import bearer
from tests.e2e.personal.backup import copy_keys
from tests.e2e.personal.canary import hatch, neighbour
from tests.e2e.personal.scans import Places
from tests.e2e.personal.world import Doc, Erased, erase, stream_events
from tests.e2e.rebuild.serving import wait_applied
from tests.read_side import served
from tests.services import RunningService


@pytest.fixture(scope="module")
async def erased(
    write_service: RunningService,
    read_service: RunningService,
    issuer: LocalIssuer,
    staff_token: str,
) -> Erased:
    headers = bearer(staff_token)
    async with httpx.AsyncClient(base_url=write_service.url, timeout=30, headers=headers) as w:
        canary, stays = await hatch(w), await neighbour(w)
        await wait_applied(write_service, read_service)
        backup = await copy_keys(write_service.env["DATABASE_URL"], canary.customer_id)
        async with httpx.AsyncClient(base_url=read_service.url, timeout=30, headers=headers) as r:
            before = await served(r, canary.paths)
        receipt = await erase(write_service, read_service, issuer, canary.customer_id)
        ids = (canary.customer_id, *canary.orders, stays.customer_id, *stays.orders)
        streams = await stream_events(w, *ids)
    return Erased(canary, stays, receipt, backup, before, streams)


@pytest.fixture(scope="module")
def operator_outputs() -> list[str]:
    """What the operator commands the tests ran printed (searched as logs are)."""
    return []


@pytest.fixture
def places(
    write_service: RunningService,
    read_service: RunningService,
    kafka: Any,
    mongo_client: AsyncMongoClient[Doc],
    operator_outputs: list[str],
) -> Places:
    return Places(
        pg_url=write_service.env["DATABASE_URL"],
        bootstrap=kafka.url,
        read_db=mongo_client[read_service.env["MONGODB_DATABASE"]],
        logs=[write_service.log, read_service.log],
        outputs=operator_outputs,
    )
