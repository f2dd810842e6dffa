"""The personal-data tests' fixtures, once for the module: a canary customer erased beside a
neighbour who stays, the key rows a backup taken before the erasure holds, and every place a
value may be kept."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from deploy.local.stack import LocalIssuer, free_port
from tests.auth import bearer
from tests.e2e.personal.backup import copy_keys
from tests.e2e.personal.canary import hatch, neighbour
from tests.e2e.personal.scans import Places
from tests.e2e.personal.world import Doc, Erased, Stack, erase, stream_events
from tests.e2e.rebuild.serving import wait_applied
from tests.e2e.servers import serve
from tests.read_side import served
from tests.services import RunningService


@pytest.fixture(scope="module")
def stack(
    write_service: RunningService,
    read_service: RunningService,
    issuer: LocalIssuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    env = {
        **write_service.env,
        "WRITE_PORT": str(free_port()),
        "READ_SERVICE_URL": read_service.url,
        "RELAY_ENABLED": "false",
        "FULFILMENT_ENABLED": "false",
    }
    for replica in serve("write", env, tmp_path_factory):
        yield Stack(write_service, read_service, replica, issuer)


@pytest.fixture(scope="module")
async def erased(stack: Stack, staff_token: str) -> Erased:
    write_service, read_service = stack.write, stack.read
    headers = bearer(staff_token)
    async with httpx.AsyncClient(base_url=write_service.url, timeout=30, headers=headers) as w:
        canary, stays = await hatch(w), await neighbour(w)
        await wait_applied(write_service, read_service)
        backup = await copy_keys(write_service.env["DATABASE_URL"], canary.customer_id)
        async with httpx.AsyncClient(base_url=read_service.url, timeout=30, headers=headers) as r:
            before = await served(r, canary.paths)
        receipt = await erase(stack, canary.customer_id)
        ids = (canary.customer_id, *canary.orders, stays.customer_id, *stays.orders)
        streams = await stream_events(w, *ids)
    return Erased(canary, stays, receipt, backup, before, streams)


@pytest.fixture(scope="module")
def operator_outputs() -> list[str]:
    """What the operator commands the tests ran printed (searched as logs are)."""
    return []


@pytest.fixture
def places(
    stack: Stack,
    kafka: Any,
    mongo_client: AsyncMongoClient[Doc],
    operator_outputs: list[str],
) -> Places:
    return Places(
        pg_url=stack.write.env["DATABASE_URL"],
        bootstrap=kafka.url,
        read_db=mongo_client[stack.read.env["MONGODB_DATABASE"]],
        logs=stack.logs,
        outputs=operator_outputs,
    )
